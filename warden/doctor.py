"""`warden doctor`: check the whole configuration end to end, one line per check.

Each part checks what it owns, where its libraries may be imported: Slack in `slackapp.doctor`,
the LLM in `agent.doctor`, embeddings and the index in `knowledge.doctor`, the database in
`tools.doctor`. This module holds the result type, the secrets check, and the runner that
composes them. A check never raises: whatever goes wrong becomes a failed line saying what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warden.settings import Settings

log = logging.getLogger(__name__)


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but a person should look (e.g. migrations pending, applied on start)
    FAIL = "FAIL"  # a specialist or approver would hit this


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: what was checked, what was found, what to do."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == Status.FAIL

    def line(self) -> str:
        text = f"{self.status.value:<4}  {self.name:<18} {self.detail}"
        return f"{text}\n      -> {self.fix}" if self.fix and self.status != Status.OK else text


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def guarded(name: str, check: Callable[[], Iterable[Check]], fix: str) -> list[Check]:
    """Run one check; an unexpected exception becomes a failed line instead of a traceback."""
    try:
        return list(check())
    except Exception as exc:  # the doctor's boundary: report, never crash
        log.debug("check %s raised", name, exc_info=True)
        return [fail(name, f"{type(exc).__name__}: {str(exc)[:300]}", fix)]


# --------------------------------------------------------------------------- secrets


def secrets_check(settings: Settings, *, http: bool) -> Check:
    """What `WARDEN_ENV=production` would refuse (`warden.production`): a failure in production,
    a note in development."""
    from warden.production import production_problems

    required = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN")
    as_production = settings.model_copy(update={"environment": "production"})
    problems = production_problems(as_production, required=required)
    if settings.environment != "production":
        note = f"; production would refuse: {'; '.join(problems)}" if problems else ""
        return ok("secrets", f"development mode{note}")
    if problems:
        return fail(
            "secrets",
            f"production, but {'; '.join(problems)}",
            "set real values in the environment or .env (e.g. `openssl rand -hex 32`; never "
            "commit them)",
        )
    return ok("secrets", "production: every secret set, none weak or a placeholder")


# --------------------------------------------------------------------------- runner


def run(
    settings: Settings,
    *,
    http: bool = False,
    slack_client: Any = None,
    embedder: Any = None,
    chroma_client: Any = None,
    model: Any = None,
) -> list[Check]:
    """Every check, in the order a platform engineer would fix them; clients may be passed in."""
    from agent.doctor import llm_checks
    from knowledge.doctor import knowledge_checks
    from slackapp.doctor import slack_checks
    from tools.doctor import database_checks

    checks: list[Check] = [secrets_check(settings, http=http)]
    checks += database_checks(settings)
    checks += knowledge_checks(settings, embedder=embedder, client=chroma_client)
    checks += llm_checks(settings, model=model)
    checks += slack_checks(settings, http=http, client=slack_client)
    return checks


def render(checks: Sequence[Check]) -> str:
    failed = sum(1 for c in checks if c.failed)
    warned = sum(1 for c in checks if c.status == Status.WARN)
    lines = [c.line() for c in checks]
    if failed:
        lines.append(f"{failed} check(s) failed, {warned} warning(s): fix the lines marked FAIL.")
    else:
        lines.append(f"all {len(checks)} checks passed ({warned} warning(s)).")
    return "\n".join(lines)


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(c.failed for c in checks) else 0
