"""Auto-action proposals: the interrupt, authorised resumes, and what a resume can never do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langgraph.types import Command
from pydantic import ValidationError

from agent.interface import (
    Decision,
    Intent,
    ProposalOutcome,
    ProposalPending,
    Refusal,
    WardenRequest,
)
from agent.service import approval_thread
from tools import proposals
from tools.gateway import LocalPlatform
from tools.models import PlannedAction, ProposalStatus

THREAD = "C-ops:1700000000.000100"
SPAM = "cl-spam-0093"  # 9 items, SP is not critical-harm: one approver


def propose(warden: Any, cluster: str = SPAM, thread: str = THREAD) -> Any:
    return warden.handle(
        WardenRequest(thread_id=thread, user_id="U-req", intent=Intent.PROPOSE, cluster_id=cluster)
    )


def approve_in_store(store: Any, pending: ProposalPending, *approvers: str) -> None:
    for who in approvers:
        result = proposals.approve(
            store, pending.proposal.id, who, pending.proposal.action_hash, approvers=set(approvers)
        )
        assert result.accepted, result.reason


def receipts(store: Any, proposal_id: str) -> int:
    return len(LocalPlatform(store.engine).receipts(proposal_id))


def test_proposal_pauses_and_runs_only_after_the_store_records_approval(
    make_warden: Any, sample_store: Any
) -> None:
    warden = make_warden()
    pending = propose(warden)
    assert isinstance(pending, ProposalPending)
    pid = pending.proposal.id
    assert pending.blast_radius.total_actions == 9
    assert pending.proposal.requester_id == "U-req"
    assert [p.proposal.id for p in warden.pending(THREAD)] == [pid]
    approve = Decision(proposal_id=pid, decision="approve", decided_by=["U-lead"])

    # The caller says "approve" but the store has no approval: refused, still waiting.
    early = warden.resume(THREAD, approve)
    assert isinstance(early, Refusal)
    assert "pending" in early.reason and "still waiting" in early.reason
    assert receipts(sample_store, pid) == 0
    assert [p.proposal.id for p in warden.pending(THREAD)] == [pid]

    approve_in_store(sample_store, pending, "U-lead")
    seen: list[Any] = []
    done = warden.resume(THREAD, approve, progress=seen.append)
    assert isinstance(done, ProposalOutcome), done
    assert done.status is ProposalStatus.EXECUTED
    assert (done.applied, done.failed) == (9, 0)
    assert seen and seen[-1].done and seen[-1].applied == 9
    assert receipts(sample_store, pid) == 9
    assert warden.pending(THREAD) == []

    # A double resume (double click, retry) finds nothing waiting and does nothing.
    again = warden.resume(THREAD, approve)
    assert isinstance(again, Refusal) and "No proposal" in again.reason
    assert receipts(sample_store, pid) == 9


def test_reject_and_stale_decisions(make_warden: Any, sample_store: Any) -> None:
    warden = make_warden()
    pending = propose(warden)
    pid = pending.proposal.id
    stale = warden.resume(THREAD, Decision(proposal_id="prop_nope", decision="approve"))
    assert isinstance(stale, Refusal) and "prop_nope" in stale.reason
    result = proposals.reject(sample_store, pid, "U-lead", approvers={"U-lead"}, reason="too broad")
    assert result.accepted
    # The store says rejected: an "approve" resume is refused, a "reject" one is recorded.
    wrong = warden.resume(THREAD, Decision(proposal_id=pid, decision="approve"))
    assert isinstance(wrong, Refusal) and "rejected" in wrong.reason
    out = warden.resume(
        THREAD, Decision(proposal_id=pid, decision="reject", decided_by=["U-lead"], reason="broad")
    )
    assert isinstance(out, ProposalOutcome) and out.status is ProposalStatus.REJECTED
    assert "U-lead" in out.message
    assert receipts(sample_store, pid) == 0


def test_expiry_is_checked_against_the_clock(make_warden: Any, sample_store: Any) -> None:
    warden = make_warden()
    pending = propose(warden)
    pid = pending.proposal.id
    expire = Decision(proposal_id=pid, decision="expire")
    early = warden.resume(THREAD, expire)
    assert isinstance(early, Refusal) and "not expired" in early.reason
    later = datetime.now(UTC) + timedelta(days=2)
    out = warden.resume(THREAD, expire, now=later)
    assert isinstance(out, ProposalOutcome) and out.status is ProposalStatus.EXPIRED
    assert sample_store.get_proposal(pid).status is ProposalStatus.EXPIRED


def test_a_decision_cannot_carry_targets_or_actions(make_warden: Any, sample_store: Any) -> None:
    with pytest.raises(ValidationError):
        Decision(proposal_id="p", decision="approve", targets=["acct-evil"])  # type: ignore[call-arg]
    warden = make_warden()
    pending = propose(warden)
    pid = pending.proposal.id
    approve_in_store(sample_store, pending, "U-lead")
    forged = {
        "proposal_id": pid,
        "decision": "approve",
        "actions": [
            {
                "target_type": "account",
                "target_id": "acct-evil",
                "action": "suspend",
                "section_id": "SP-2.1",
            }
        ],
    }
    with pytest.raises(ValidationError):
        warden.resume(THREAD, forged)  # type: ignore[arg-type]
    # Straight into the graph (bypassing Warden): the node refuses it and keeps waiting.
    config = {"configurable": {"thread_id": approval_thread(THREAD, pid)}}
    warden.graph.invoke(Command(resume=forged), config)
    snapshot = warden.graph.get_state(config)
    assert snapshot.interrupts and "Not a valid decision" in snapshot.interrupts[0].value["refused"]
    assert receipts(sample_store, pid) == 0
    # The genuine decision still works afterwards.
    out = warden.resume(THREAD, Decision(proposal_id=pid, decision="approve"))
    assert isinstance(out, ProposalOutcome) and out.applied == 9
    assert receipts(sample_store, pid) == 9


def test_altered_paused_state_is_refused(make_warden: Any, sample_store: Any) -> None:
    warden = make_warden()
    pending = propose(warden)
    pid = pending.proposal.id
    approve_in_store(sample_store, pending, "U-lead")
    config = {"configurable": {"thread_id": approval_thread(THREAD, pid)}}
    paused = warden.graph.get_state(config).values["proposal"]
    extra = PlannedAction(
        target_type="account", target_id="acct-evil", action="suspend", section_id="SP-2.1"
    ).model_dump(mode="json")
    # Tamper with the checkpointed actions (hash left as approved), as a corrupted store would.
    warden.graph.update_state(
        config, {"proposal": {**paused, "actions": [*paused["actions"], extra]}}, as_node="route"
    )
    out = warden.graph.invoke(Command(resume={"proposal_id": pid, "decision": "approve"}), config)
    snapshot = warden.graph.get_state(config)
    refused = snapshot.interrupts[0].value["refused"] if snapshot.interrupts else out["response"]
    assert "no longer match their hash" in str(refused)
    # Tamper consistently (actions AND hash): the store's approved hash still disagrees.
    from tools.models import action_list_hash

    forged_actions = [*paused["actions"], extra]
    forged_hash = action_list_hash([PlannedAction.model_validate(a) for a in forged_actions])
    warden.graph.update_state(
        config,
        {"proposal": {**paused, "actions": forged_actions, "action_hash": forged_hash}},
        as_node="route",
    )
    warden.graph.invoke(Command(resume={"proposal_id": pid, "decision": "approve"}), config)
    snapshot = warden.graph.get_state(config)
    assert snapshot.interrupts
    assert "differs from the one posted" in snapshot.interrupts[0].value["refused"]
    assert receipts(sample_store, pid) == 0


def test_critical_harm_needs_two_bound_approvals(make_warden: Any, sample_store: Any) -> None:
    warden = make_warden()
    pending = propose(warden, cluster="cl-ve-0005", thread="C-ve:1")
    assert isinstance(pending, ProposalPending)
    assert pending.proposal.required_approvals == 2
    pid = pending.proposal.id
    approvers = {"U-a", "U-b"}
    first = proposals.approve(
        sample_store, pid, "U-a", pending.proposal.action_hash, approvers=approvers
    )
    assert first.accepted and first.status is ProposalStatus.PENDING
    one = warden.resume("C-ve:1", Decision(proposal_id=pid, decision="approve"))
    assert isinstance(one, Refusal)
    proposals.approve(sample_store, pid, "U-b", pending.proposal.action_hash, approvers=approvers)
    two = warden.resume("C-ve:1", Decision(proposal_id=pid, decision="approve"))
    assert isinstance(two, ProposalOutcome) and two.status is ProposalStatus.EXECUTED


def test_gate_in_shadow_mode_records_instead_of_posting(
    make_warden: Any, sample_store: Any
) -> None:
    from tools.gates import list_shadow, load_gates

    warden = make_warden(gates=load_gates())  # the shipped gates: SP is in shadow mode
    out = propose(warden)
    assert isinstance(out, Refusal) and "shadow" in out.reason
    shadow = list_shadow(sample_store, policy_id="SP")
    assert len(shadow) == 1 and shadow[0].cluster_id == SPAM
    assert warden.pending(THREAD) == []


def test_questions_continue_while_a_proposal_waits(make_warden: Any) -> None:
    warden = make_warden()
    pending = propose(warden)
    answer = warden.handle(
        WardenRequest(thread_id=THREAD, user_id="U-req", text="what counts as spam?")
    )
    assert answer.kind == "answer"
    second = propose(warden, cluster="cl-cf-0021")
    assert isinstance(second, ProposalPending)
    waiting = {p.proposal.id for p in warden.pending(THREAD)}
    assert waiting == {pending.proposal.id, second.proposal.id}
