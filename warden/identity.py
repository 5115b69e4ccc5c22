"""Who is acting. On the command line: the OS user who runs the command, mapped to a Slack user id
by `WARDEN_OPERATORS`; in Slack: the authenticated user of the request. Never an argument.

Everything that records a decision (a case decision, an approval, an escalation step, an appeal
outcome, a gate change) takes the actor from here, so one person cannot be two people by typing
a second id, and four-eyes rules count distinct authenticated people.
"""

from __future__ import annotations

import getpass
from typing import Protocol

from warden.errors import ConfigError
from warden.settings import SLACK_USER_ID, Settings


def os_user() -> str:
    """The login name of whoever runs this process."""
    return getpass.getuser()


def cli_operator(settings: Settings) -> str:
    """The Slack user id the command line acts as; refuse when the OS user has none."""
    user = os_user()
    mapped = settings.operators.get(user)
    if mapped is None:
        raise ConfigError(
            f"The command line acts as the OS user {user!r}, who has no Slack identity here: "
            f"add {user}=<Slack user id> to WARDEN_OPERATORS (comma-separated osuser=U123 "
            "pairs). Decisions are never recorded for a person named on the command line."
        )
    return mapped


def refuse_cli_approval(settings: Settings) -> None:
    """Production approves proposals in Slack only, where every click is an authenticated user."""
    if settings.environment == "production":
        raise ConfigError(
            "In production (WARDEN_ENV=production) proposals are approved or rejected in Slack "
            "only; the command line cannot record approvals."
        )


class Directory(Protocol):
    """Who belongs to a reviewer group (the catalogue's `decisions.reviewers`)."""

    def members(self, group: str) -> set[str]: ...


class SettingsDirectory:
    """Reviewer groups as `WARDEN_REVIEWER_GROUPS` lists them (Slack user ids per group).

    A group that is not listed has no members: nobody may decide for it, rather than anybody.
    """

    def __init__(self, settings: Settings) -> None:
        self.groups = settings.reviewer_groups

    def members(self, group: str) -> set[str]:
        return {m for m in self.groups.get(group, []) if SLACK_USER_ID.match(m)}
