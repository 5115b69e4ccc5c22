"""The production `Backend`: the agent's view of `tools/` over one store, catalogue and gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent.deps import ClusterLike, FanoutSummary, GateVerdict
from knowledge.vocabulary import ActionType
from tools.models import (
    BlastRadius,
    Case,
    Escalation,
    FanoutProgress,
    PlannedAction,
    Proposal,
    StrikeEffect,
)

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.store import Store


class ToolsBackend:
    """Calls `tools.*` functions; holds no state of its own beyond the clients it was given."""

    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        *,
        gateway: Any = None,
        gates: Any = None,
        proposal_ttl: timedelta = timedelta(hours=4),
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.gateway = gateway
        self.gates = gates
        self.proposal_ttl = proposal_ttl

    def get_case(self, case_id: str) -> Case:
        return self.store.get_case(case_id)

    def get_cluster(self, cluster_id: str) -> ClusterLike:
        return self.store.get_cluster(cluster_id)

    def preview_strikes(self, actions: list[PlannedAction]) -> list[StrikeEffect]:
        from tools import strikes

        return strikes.preview(self.store, self.catalogue, actions)

    def gate(self, policy_id: str, batch_size: int) -> GateVerdict | None:
        if self.gates is None:
            return None
        from tools import gates

        decision = gates.check(self.store, self.gates, policy_id, batch_size)
        return GateVerdict(
            allowed=decision.allowed, record_shadow=decision.record_shadow, reason=decision.reason
        )

    def record_shadow(
        self,
        *,
        policy_id: str,
        section_ids: list[str],
        action: ActionType,
        target_ids: list[str],
        requester_id: str,
        case_id: str | None,
        cluster_id: str | None,
    ) -> None:
        from tools import gates

        gates.record_shadow(
            self.store,
            policy_id=policy_id,
            section_ids=section_ids,
            action=action.value,
            target_ids=target_ids,
            requester_id=requester_id,
            case_id=case_id,
            cluster_id=cluster_id,
        )

    def create_proposal(
        self,
        *,
        policy_id: str,
        section_ids: list[str],
        action: ActionType,
        requester_id: str,
        case_id: str | None,
        cluster_id: str | None,
        evidence: list[str],
        model: str | None,
        prompt_id: str | None,
    ) -> tuple[Proposal, BlastRadius]:
        from tools import proposals

        created = proposals.create_proposal(
            self.store,
            self.catalogue,
            policy_id=policy_id,
            section_ids=section_ids,
            action=action,
            targets=None,  # everything in the case or cluster, planned by tools/, never by us
            requester_id=requester_id,
            case_id=case_id,
            cluster_id=cluster_id,
            evidence=evidence,
            ttl=self.proposal_ttl,
            source="warden-agent",
            model=model,
            prompt_id=prompt_id,
        )
        return created.proposal, created.blast_radius

    def get_proposal(self, proposal_id: str) -> Proposal:
        return self.store.get_proposal(proposal_id)

    def expire_due(self, now: datetime) -> None:
        from tools import proposals

        proposals.expire_due(self.store, now)

    def execute(
        self, proposal_id: str, progress: Callable[[FanoutProgress], None] | None
    ) -> FanoutSummary:
        from tools import fanout

        if self.gateway is None:
            from warden.errors import ConfigError

            raise ConfigError("No enforcement gateway configured; the proposal was not executed.")
        result = fanout.execute(
            self.store, self.gateway, proposal_id, catalogue=self.catalogue, progress=progress
        )
        message = (
            f"{result.applied} of {result.total} actions applied"
            + (f", {result.failed} failed" if result.failed else "")
            + (
                f", {result.pending} still pending (run it again to resume)"
                if result.pending
                else ""
            )
            + (
                f"; suspended: {', '.join(result.suspended_accounts)}"
                if result.suspended_accounts
                else ""
            )
            + "."
        )
        return FanoutSummary(
            status=result.status.value,
            applied=result.applied,
            failed=result.failed,
            message=message,
        )

    def open_escalation(
        self,
        *,
        case_id: str | None,
        policy_id: str,
        section_ids: list[str],
        summary: str,
        opened_by: str,
        imminent: bool,
        model: str | None = None,
        prompt_id: str | None = None,
    ) -> Escalation:
        from tools import escalations

        opened: Escalation = escalations.open_escalation(
            self.store,
            self.catalogue,
            case_id=case_id,
            policy_id=policy_id,
            section_ids=section_ids,
            summary=summary,
            opened_by=opened_by,
            imminent=imminent,
            model=model,
            prompt_id=prompt_id,
        )
        return opened
