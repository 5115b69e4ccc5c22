"""What every listener needs, built once by `build_app` and passed to each `register`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from agent.interface import Decision, WardenRequest, WardenResponse
from slackapp.ledger import SlackLedger
from slackapp.work import WorkPool
from tools.models import FanoutProgress, ProposalStatus
from warden.settings import Settings


class WardenService(Protocol):
    """The agent's one entry point (agent.service.Warden satisfies it)."""

    def handle(self, request: WardenRequest) -> WardenResponse: ...

    def resume(
        self,
        thread_id: str,
        decision: Decision,
        progress: Callable[[FanoutProgress], None] | None = None,
    ) -> WardenResponse: ...


class DecisionLike(Protocol):
    accepted: bool
    status: ProposalStatus
    reason: str


class Decider(Protocol):
    """Records approve / reject decisions; the store decides (tools.proposals)."""

    def approve(
        self,
        proposal_id: str,
        approver_id: str,
        action_hash: str,
        *,
        approvers: set[str],
        now: datetime,
    ) -> DecisionLike: ...

    def reject(
        self,
        proposal_id: str,
        approver_id: str,
        action_hash: str,
        *,
        reason: str,
        approvers: set[str],
        now: datetime,
    ) -> DecisionLike: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    warden: WardenService
    store: Any
    ledger: SlackLedger
    decider: Decider
    pool: WorkPool
    approvers: Any  # slackapp.approvals.ApproverDirectory
    clock: Callable[[], datetime] = utcnow
    progress_interval_s: float = 1.0
    team_id: str | None = None  # this workspace (auth.test); other teams' requests are refused
    running: set[str] = field(default_factory=set)  # proposals this process is executing now
    extras: dict[str, Any] = field(default_factory=dict)

    def once(self, body: dict[str, Any]) -> Callable[[], bool] | None:
        """The de-duplication check for an Events API delivery (None for other requests).

        Slack retries an event (X-Slack-Retry-Num) and Socket Mode redelivers it; the event id
        is recorded in the store, so whichever replica claims it first handles it, once.
        """
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            return None
        return lambda: self.ledger.first_delivery(str(event_id))
