"""The catalogue's language: enforcement actions and their ladder, priorities, severities.

Every part of Warden speaks it (the catalogue validates against it, the back end applies it, the
agent and Slack show it); it lives here, beside the catalogue that defines what each policy may
do, and imports nothing, so the arrows run one way: `tools` and `agent` import `knowledge`.
"""

from __future__ import annotations

from enum import StrEnum


class ActionType(StrEnum):
    """Enforcement actions, in ladder order (least to most severe)."""

    LABEL = "label"
    LIMIT_DISTRIBUTION = "limit_distribution"
    REMOVE = "remove"
    STRIKE = "strike"
    SUSPEND = "suspend"


LADDER: tuple[ActionType, ...] = tuple(ActionType)
# Actions whose target is the account (content actions target an item).
ACCOUNT_ACTIONS = frozenset({ActionType.STRIKE, ActionType.SUSPEND})


class RestrictionType(StrEnum):
    """Account-level restrictions a strike threshold (or a severe violation) puts in place."""

    LIMIT_DISTRIBUTION = "limit_distribution"
    SUSPEND = "suspend"

    @property
    def rank(self) -> int:
        """Higher is more restrictive."""
        return 1 if self is RestrictionType.SUSPEND else 0


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


PRIORITY_ORDER: tuple[Priority, ...] = (Priority.P0, Priority.P1, Priority.P2, Priority.P3)


class Severity(StrEnum):
    """Severity tiers, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more severe (critical = 3)."""
        return {"critical": 3, "high": 2, "medium": 1, "low": 0}[self.value]
