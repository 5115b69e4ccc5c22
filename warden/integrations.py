"""Settings of the integrations (issue 17): API keys for detectors and review tools, and the
subscribers of Warden's signed webhooks. Parsed here, used by `api/` and `tools/outbox.py`.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Production wants API keys and webhook secrets longer than other secrets (warden.strength).
MIN_PRODUCTION_KEY = 32
MIN_PRODUCTION_SECRET = 24
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEY = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces (sent in a header)


class Scope(StrEnum):
    """What an API key may do."""

    CASES = "cases"  # submit cases
    PROPOSALS = "proposals"  # submit detector clusters and auto-action proposals
    APPEALS = "appeals"  # file appeals on behalf of accounts
    READ = "read"  # read cases, proposals, decisions, appeals


class ApiKey(BaseModel):
    """One `NAME:KEY:SCOPE[+SCOPE...]` entry of WARDEN_API_KEYS (the key is never shown)."""

    model_config = ConfigDict(frozen=True)

    name: str
    key: SecretStr
    scopes: frozenset[Scope]


def parse_api_keys(value: str) -> list[ApiKey]:
    """Parse comma-separated `NAME:KEY:SCOPE[+SCOPE...]` entries; errors never echo a key."""
    keys: list[ApiKey] = []
    for n, part in enumerate((p.strip() for p in value.split(",")), start=1):
        if not part:
            continue
        fields = part.split(":")
        if len(fields) != 3:
            raise ValueError(f"WARDEN_API_KEYS entry {n} must be NAME:KEY:SCOPE[+SCOPE...]")
        name, key, scopes = (f.strip() for f in fields)
        if not _NAME.match(name):
            raise ValueError(f"WARDEN_API_KEYS entry {n}: the name must be letters, digits, ._-")
        if not _KEY.match(key):
            raise ValueError(f"WARDEN_API_KEYS entry {n} ({name}): the key is empty or not ASCII")
        try:
            granted = frozenset(Scope(s.strip()) for s in scopes.split("+") if s.strip())
        except ValueError:
            allowed = ", ".join(s.value for s in Scope)
            raise ValueError(
                f"WARDEN_API_KEYS entry {n} ({name}): unknown scope; use {allowed}"
            ) from None
        if not granted:
            raise ValueError(f"WARDEN_API_KEYS entry {n} ({name}) grants no scope")
        keys.append(ApiKey(name=name, key=SecretStr(key), scopes=granted))
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise ValueError("WARDEN_API_KEYS names must be unique (the audit names callers by them)")
    secrets = [k.key.get_secret_value() for k in keys]
    if len(set(secrets)) != len(secrets):
        raise ValueError("two WARDEN_API_KEYS entries share one key; give each caller its own")
    return keys


class EventType(StrEnum):
    """What webhook subscribers can receive."""

    DECISION_RECORDED = "decision.recorded"
    ACTION_APPLIED = "action.applied"
    PROPOSAL_APPROVED = "proposal.approved"
    PROPOSAL_REJECTED = "proposal.rejected"
    PROPOSAL_EXPIRED = "proposal.expired"
    ESCALATION_OPENED = "escalation.opened"
    ESCALATION_RESOLVED = "escalation.resolved"
    APPEAL_DECIDED = "appeal.decided"


class WebhookSubscriber(BaseModel):
    """One entry of WARDEN_WEBHOOKS (a JSON list): where to send which events, signed how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME.pattern, description="stable id: delivery state is kept by it")
    url: str = Field(pattern=r"^https?://[^\s]+$")
    secret: SecretStr
    events: frozenset[EventType] = Field(min_length=1)

    @field_validator("secret")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("a webhook secret cannot be empty")
        return value
