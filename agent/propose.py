"""Job 4, auto-action proposals: create via `tools/`, pause for approval, act only on a decision.

Targets are never chosen here or by the model: `tools.proposals.create_proposal` plans them from
the case's items and authors or the detector cluster's content. On resume, the decision carries
only the proposal id and the verdict; the actions are re-read from the paused state and must hash
to the stored, approved action hash before the fanout runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from agent.deps import Deps, FanoutSummary
from agent.interface import Decision, ProposalOutcome, ProposalPending, Refusal, Usage
from agent.prompts import PROMPT_VERSION
from agent.recommend import recommend
from agent.state import Retrieved
from knowledge.vocabulary import ACCOUNT_ACTIONS, ActionType
from tools.models import FanoutProgress, Proposal, ProposalStatus, action_list_hash
from warden.errors import InputError

# A fanout may be resumed after a crash mid-run, and an executed proposal is reported, not re-run.
RUNNABLE_AFTER_APPROVAL = {
    ProposalStatus.APPROVED,
    ProposalStatus.EXECUTING,
    ProposalStatus.EXECUTED,
    ProposalStatus.FAILED,
}


def create(
    deps: Deps,
    *,
    user_id: str,
    case_id: str | None,
    cluster_id: str | None,
    action: ActionType | None,
    model_name: str | None,
) -> tuple[ProposalPending | Refusal, list[Retrieved], Usage]:
    """Create a pending proposal for a cluster or a case, after the automation gate agrees."""
    catalogue = deps.catalogue
    sections: list[Retrieved] = []
    usage = Usage()
    evidence: list[str] = []
    drafted = False  # a model-written draft grounds this proposal: record its prompts and model
    if cluster_id is not None:
        cluster = deps.backend.get_cluster(cluster_id)
        policy_id, section_ids = cluster.policy_id, [cluster.section_id]
        if not catalogue.automatable(cluster.section_id):
            return (
                Refusal(
                    reason=f"{cluster.section_id} is not automatable in the catalogue; "
                    "review these items case by case instead of in bulk."
                ),
                sections,
                usage,
            )
        action = action or catalogue.section(cluster.section_id).default_action
        batch = len(cluster.content_ids)
        target_ids = list(cluster.content_ids)
        evidence.append(f"detector {cluster.detector}: {cluster.description}"[:300])
        case_id = None
    elif case_id is not None:
        case = deps.backend.get_case(case_id)
        rec, sections, usage = recommend(deps, case)
        if not rec.section_ids or rec.policy_id is None:
            return (
                Refusal(reason=f"No policy section supports an action on {case_id}.", usage=usage),
                sections,
                usage,
            )
        if action is None:
            if rec.mode != "llm" or rec.action is None:
                return (
                    Refusal(
                        reason="A rules-based draft is never auto-executed: say the action "
                        f"explicitly (e.g. `propose {case_id} remove`).",
                        usage=usage,
                    ),
                    sections,
                    usage,
                )
            action = rec.action
        policy_id, section_ids = rec.policy_id, rec.section_ids
        drafted = rec.mode == "llm"
        batch = len(case.account_ids) if action in ACCOUNT_ACTIONS else len(case.items)
        target_ids = list(case.content_ids)
        evidence.append(f"recommendation ({rec.mode}): {rec.verdict}; {rec.rationale}"[:300])
    else:
        raise InputError("A proposal needs a case id or a detector cluster id.")
    if action is None:
        raise InputError(f"No action given and {section_ids[0]} has no default action.")
    for sid in section_ids:
        if not catalogue.is_allowed(sid, action):
            allowed = ", ".join(a.value for a in catalogue.allowed_actions(sid)) or "none"
            return (
                Refusal(reason=f"{action.value} is not allowed by {sid}; allowed: {allowed}."),
                sections,
                usage,
            )
    verdict = deps.backend.gate(policy_id, batch)
    if verdict is not None and not verdict.allowed:
        if verdict.record_shadow:
            deps.backend.record_shadow(
                policy_id=policy_id,
                section_ids=section_ids,
                action=action,
                target_ids=target_ids,
                requester_id=user_id,
                case_id=case_id,
                cluster_id=cluster_id,
            )
        return Refusal(reason=verdict.reason, usage=usage), sections, usage
    proposal, radius = deps.backend.create_proposal(
        policy_id=policy_id,
        section_ids=section_ids,
        action=action,
        requester_id=user_id,
        case_id=case_id,
        cluster_id=cluster_id,
        evidence=evidence,
        model=model_name if drafted else None,
        prompt_id=f"recommend@{PROMPT_VERSION}" if drafted else None,
    )
    return ProposalPending(proposal=proposal, blast_radius=radius), sections, usage


def check_decision(
    deps: Deps, paused: dict[str, Any], raw: Any, now: datetime
) -> tuple[Decision | None, Proposal | None, str | None]:
    """Accept a resume value only if it is a valid, already-recorded decision on THIS proposal.

    Returns (decision, stored proposal, None) or (None, None, why it was refused).
    """
    try:
        decision = Decision.model_validate(raw)
    except ValidationError as exc:
        return None, None, f"Not a valid decision ({exc.errors()[0]['msg']}); nothing was done."
    proposal = Proposal.model_validate(paused)
    if decision.proposal_id != proposal.id:
        return (
            None,
            None,
            (
                f"This thread is waiting on {proposal.id}, not {decision.proposal_id}; "
                "nothing was done."
            ),
        )
    if action_list_hash(proposal.actions) != proposal.action_hash:
        return None, None, "The paused proposal's actions no longer match their hash; refused."
    stored = deps.backend.get_proposal(proposal.id)
    if stored.action_hash != proposal.action_hash or action_list_hash(stored.actions) != (
        stored.action_hash
    ):
        return None, None, "The stored proposal differs from the one posted for approval; refused."
    if decision.decision == "expire" and stored.status is ProposalStatus.PENDING:
        if stored.expires_at > now:
            return None, None, f"{proposal.id} has not expired yet (expires {stored.expires_at})."
        deps.backend.expire_due(now)
        stored = deps.backend.get_proposal(proposal.id)
    wanted = {
        "approve": RUNNABLE_AFTER_APPROVAL,
        "reject": {ProposalStatus.REJECTED},
        "expire": {ProposalStatus.EXPIRED},
    }[decision.decision]
    if stored.status not in wanted:
        return (
            None,
            None,
            (
                f"The store has {proposal.id} as {stored.status.value}; a {decision.decision} "
                "decision must be recorded there first (in Slack or `warden chat`)."
            ),
        )
    if decision.decision == "approve":
        bound = {a.approver_id for a in stored.approvals if a.action_hash == proposal.action_hash}
        if len(bound) < stored.required_approvals:
            return (
                None,
                None,
                (
                    f"{proposal.id} has {len(bound)} of {stored.required_approvals} approvals "
                    "bound to its actions; refused."
                ),
            )
    return decision, stored, None


def carry_out(
    deps: Deps,
    decision: Decision,
    stored: Proposal,
    progress: Callable[[FanoutProgress], None] | None,
) -> ProposalOutcome:
    """Run the fanout for an approval; report a rejection or expiry as recorded."""
    if decision.decision == "approve":
        if stored.status is ProposalStatus.EXECUTED:
            summary = FanoutSummary(
                status=ProposalStatus.EXECUTED.value,
                applied=len(stored.actions),
                failed=0,
                message="already executed",
            )
        else:
            summary = deps.backend.execute(stored.id, progress)
        return ProposalOutcome(
            proposal_id=stored.id,
            status=ProposalStatus(summary.status),
            applied=summary.applied,
            failed=summary.failed,
            message=summary.message,
        )
    if decision.decision == "reject":
        who = ", ".join(decision.decided_by) or stored.decided_by or "an approver"
        reason = decision.reason or stored.reject_reason or "no reason given"
        return ProposalOutcome(
            proposal_id=stored.id,
            status=ProposalStatus.REJECTED,
            message=f"Rejected by {who}: {reason}. Nothing was enforced.",
        )
    return ProposalOutcome(
        proposal_id=stored.id,
        status=ProposalStatus.EXPIRED,
        message="Expired without a decision. Nothing was enforced.",
    )
