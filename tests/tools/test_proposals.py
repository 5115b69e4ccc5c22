"""Proposals: targets only from the source, allowed actions, four-eyes, exactly one decision."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType
from tests.tools.helpers import APPROVERS, NOW, case_line, two_author_case
from tools import audit
from tools.cases import import_cases
from tools.models import ProposalStatus
from tools.proposals import (
    Created,
    DecisionResult,
    ProposalRefused,
    approve,
    create_proposal,
    expire_due,
    mark_executed,
    mark_executing,
    reject,
)
from tools.store import Store
from warden.errors import ApprovalError


def _propose(
    store: Store,
    catalogue: Catalogue,
    *,
    action: ActionType = ActionType.REMOVE,
    section: str = "HA-2.1",
    targets: list[str] | None = None,
    case_id: str = "case-1",
    ttl: timedelta = timedelta(hours=4),
) -> Created:
    return create_proposal(
        store,
        catalogue,
        policy_id="HA",
        section_ids=[section],
        action=action,
        targets=targets,
        requester_id="U_SPEC",
        case_id=case_id,
        evidence=["hate 0.93 on both pins"],
        ttl=ttl,
        now=NOW,
    )


@pytest.fixture
def with_case(store: Store) -> Store:
    import_cases(
        store, [two_author_case("case-1"), case_line("case-2", [("pin-9", "acct-z", "x")])]
    )
    return store


def test_create_computes_hash_targets_and_blast_radius(
    with_case: Store, catalogue: Catalogue
) -> None:
    created = _propose(with_case, catalogue)
    proposal, radius = created
    assert [a.target_id for a in proposal.actions] == ["pin-1", "pin-2"]
    assert proposal.required_approvals == catalogue.policy("HA").required_approvals
    assert proposal.status == ProposalStatus.PENDING
    assert len(proposal.action_hash) == 64
    assert radius.content_count == 2 and radius.account_count == 0
    assert radius.sample_texts["pin-1"].startswith("a pin comparing")


def test_targets_outside_the_case_are_refused(with_case: Store, catalogue: Catalogue) -> None:
    with pytest.raises(ProposalRefused, match="pin-9"):
        _propose(with_case, catalogue, targets=["pin-1", "pin-9"])
    with pytest.raises(ProposalRefused, match="acct-z"):
        _propose(with_case, catalogue, action=ActionType.STRIKE, targets=["acct-z"])
    with pytest.raises(ProposalRefused, match="is an account"):
        _propose(with_case, catalogue, targets=["acct-a"])


def test_account_actions_map_content_to_authors(with_case: Store, catalogue: Catalogue) -> None:
    proposal, radius = _propose(with_case, catalogue, action=ActionType.STRIKE, targets=["pin-2"])
    assert [(a.target_type, a.target_id) for a in proposal.actions] == [("account", "acct-b")]
    assert [e.account_id for e in radius.strike_effects] == ["acct-b"]


def test_disallowed_action_is_refused(with_case: Store, catalogue: Catalogue) -> None:
    assert not catalogue.is_allowed("HA-2.1", ActionType.SUSPEND)
    with pytest.raises(ProposalRefused, match=r"not allowed by HA-2\.1"):
        _propose(with_case, catalogue, action=ActionType.SUSPEND)


def test_four_eyes_rules(with_case: Store, catalogue: Catalogue) -> None:
    proposal = _propose(with_case, catalogue).proposal
    assert catalogue.policy("HA").critical_harm and proposal.required_approvals == 2
    h = proposal.action_hash
    own = approve(with_case, proposal.id, "U_SPEC", h, approvers=APPROVERS | {"U_SPEC"}, now=NOW)
    assert not own.accepted and "requester" in own.reason
    stranger = approve(with_case, proposal.id, "U_RANDOM", h, approvers=APPROVERS, now=NOW)
    assert not stranger.accepted and "not an authorised approver" in stranger.reason
    wrong = approve(with_case, proposal.id, "U_LEAD1", "0" * 64, approvers=APPROVERS, now=NOW)
    assert not wrong.accepted and "hash mismatch" in wrong.reason
    first = approve(with_case, proposal.id, "U_LEAD1", h, approvers=APPROVERS, now=NOW)
    assert first.accepted and first.status == ProposalStatus.PENDING and first.approvals == 1
    twice = approve(with_case, proposal.id, "U_LEAD1", h, approvers=APPROVERS, now=NOW)
    assert not twice.accepted and twice.approvals == 1
    second = approve(with_case, proposal.id, "U_LEAD2", h, approvers=APPROVERS, now=NOW)
    assert second.accepted and second.status == ProposalStatus.APPROVED
    late = reject(with_case, proposal.id, "U_LEAD3", h, approvers=APPROVERS, now=NOW)
    assert not late.accepted and late.status == ProposalStatus.APPROVED
    refusals = [e for e in audit.events(with_case) if e.outcome == "refused"]
    assert len(refusals) == 5  # every refusal is audited
    assert audit.verify(with_case).ok


def test_expired_proposal_refuses_decisions(with_case: Store, catalogue: Catalogue) -> None:
    proposal = _propose(with_case, catalogue, ttl=timedelta(minutes=30)).proposal
    later = NOW + timedelta(minutes=31)
    result = approve(
        with_case, proposal.id, "U_LEAD1", proposal.action_hash, approvers=APPROVERS, now=later
    )
    assert not result.accepted and result.status == ProposalStatus.EXPIRED
    assert "expired" in result.reason
    assert with_case.get_proposal(proposal.id).status == ProposalStatus.EXPIRED


def test_expire_due_only_touches_pending_past_deadline(
    with_case: Store, catalogue: Catalogue
) -> None:
    short = _propose(with_case, catalogue, ttl=timedelta(minutes=5)).proposal
    long = _propose(with_case, catalogue, ttl=timedelta(hours=5)).proposal
    assert expire_due(with_case, NOW + timedelta(minutes=10)) == [short.id]
    assert expire_due(with_case, NOW + timedelta(minutes=10)) == []
    assert with_case.get_proposal(long.id).status == ProposalStatus.PENDING


def test_execution_transitions_are_guarded(with_case: Store, catalogue: Catalogue) -> None:
    proposal = _propose(with_case, catalogue).proposal
    with pytest.raises(ApprovalError, match="pending"):
        mark_executing(with_case, proposal.id)
    for who in ("U_LEAD1", "U_LEAD2"):
        approve(with_case, proposal.id, who, proposal.action_hash, approvers=APPROVERS, now=NOW)
    assert mark_executing(with_case, proposal.id).status == ProposalStatus.EXECUTING
    assert mark_executing(with_case, proposal.id).status == ProposalStatus.EXECUTING  # resume
    assert mark_executed(with_case, proposal.id).status == ProposalStatus.EXECUTED
    with pytest.raises(ApprovalError, match="executed"):
        mark_executing(with_case, proposal.id)


def test_tampered_action_list_is_not_executed(with_case: Store, catalogue: Catalogue) -> None:
    from sqlalchemy import update

    from tools.tables import ProposalRow

    proposal = _propose(with_case, catalogue).proposal
    for who in ("U_LEAD1", "U_LEAD2"):
        approve(with_case, proposal.id, who, proposal.action_hash, approvers=APPROVERS, now=NOW)
    widened = [a.model_dump(mode="json") for a in proposal.actions]
    widened.append({**widened[0], "target_id": "pin-9"})
    with with_case.session() as s:
        s.execute(update(ProposalRow).where(ProposalRow.id == proposal.id).values(actions=widened))
    with pytest.raises(ApprovalError, match="no longer matches"):
        mark_executing(with_case, proposal.id)


def _single_approver_proposal(store: Store, catalogue: Catalogue, case_id: str) -> str:
    """A proposal under a non-critical policy (one approver), for the race tests."""
    policy = next(
        p
        for p in catalogue.policies.values()
        if not p.critical_harm
        and any(ActionType.REMOVE in s.allowed_actions for s in p.sections.values())
    )
    section = next(s for s in policy.sections.values() if ActionType.REMOVE in s.allowed_actions)
    import_cases(store, [case_line(case_id, [(f"{case_id}-item", "acct-r", "spam link")])])
    return create_proposal(
        store,
        catalogue,
        policy_id=policy.id,
        section_ids=[section.id],
        action=ActionType.REMOVE,
        targets=None,
        requester_id="U_SPEC",
        case_id=case_id,
        evidence=[],
        now=NOW,
    ).proposal.id


def _race_in_threads(store: Store, pid: str, h: str) -> list[DecisionResult]:
    clicks = [
        (approve, "U_LEAD1"),
        (approve, "U_LEAD1"),  # a double click
        (reject, "U_LEAD2"),
        (approve, "U_LEAD3"),
    ]
    barrier = threading.Barrier(len(clicks))
    results: list[DecisionResult] = []
    lock = threading.Lock()

    def click(fn: Callable[..., DecisionResult], who: str) -> None:
        barrier.wait()
        result = fn(store, pid, who, h, approvers=APPROVERS, now=NOW)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=click, args=c) for c in clicks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_approve_reject_race_with_threads_gives_exactly_one_decision(
    store: Store, catalogue: Catalogue
) -> None:
    for n in range(3):
        pid = _single_approver_proposal(store, catalogue, f"race-{n}")
        results = _race_in_threads(store, pid, store.get_proposal(pid).action_hash)
        accepted = [r for r in results if r.accepted]
        assert len(results) == 4 and len(accepted) == 1, results
        final = store.get_proposal(pid)
        assert final.status == accepted[0].status
        assert len(final.approvals) == (1 if final.status == ProposalStatus.APPROVED else 0)
    assert audit.verify(store).ok


def _decide_in_child(
    url: str,
    pid: str,
    h: str,
    kind: str,
    who: str,
    ready: Any,
    out: multiprocessing.Queue[tuple[bool, str]],
) -> None:
    from tools.store import Store as ChildStore

    child = ChildStore.open(url, migrate=False)
    with child.session() as s:  # connected and warm before the clicks start
        s.execute(select(1))
    ready.wait(timeout=120)  # every process clicks at the same moment
    fn = approve if kind == "approve" else reject
    result = fn(child, pid, who, h, approvers=APPROVERS, now=NOW)
    out.put((result.accepted, result.status.value))
    child.close()


def test_approve_reject_race_across_processes_on_postgres(
    pg_url: str, catalogue: Catalogue
) -> None:
    store = Store.open(pg_url)
    # fork is quick to start; the parent's pool is emptied before each fork so no child
    # inherits (and on exit closes) a connection the parent still uses.
    ctx = multiprocessing.get_context("fork")
    clicks = (("approve", "U_LEAD1"), ("reject", "U_LEAD2"), ("approve", "U_LEAD3"))
    rounds = 5 if os.environ.get("WARDEN_STRESS") else 1
    try:
        for n in range(rounds):
            pid = _single_approver_proposal(store, catalogue, f"race-{n}")
            h = store.get_proposal(pid).action_hash
            out: multiprocessing.Queue[tuple[bool, str]] = ctx.Queue()
            ready = ctx.Barrier(len(clicks))
            procs = [
                ctx.Process(target=_decide_in_child, args=(pg_url, pid, h, kind, who, ready, out))
                for kind, who in clicks
            ]
            store.engine.dispose()
            for p in procs:
                p.start()
            outcomes = [out.get(timeout=180) for _ in procs]
            for p in procs:
                p.join(timeout=60)
            assert sum(1 for accepted, _ in outcomes if accepted) == 1, outcomes
            assert len({status for _, status in outcomes}) == 1  # everyone saw the same result
            assert len(store.get_proposal(pid).approvals) <= 1
        assert audit.verify(store).ok
    finally:
        store.close()


def test_decisions_on_unknown_proposals_are_refused_and_audited(store: Store) -> None:
    from warden.errors import NotFoundError

    with pytest.raises(NotFoundError):
        approve(store, "prop_forged", "U_LEAD1", "0" * 64, approvers=APPROVERS, now=NOW)
    with pytest.raises(NotFoundError):
        reject(store, "prop_forged", "U_LEAD1", approvers=APPROVERS, now=NOW)
    events = audit.events(store, subject="proposal:prop_forged")
    assert [(e.verb, e.outcome) for e in events] == [
        ("proposal.approve", "refused"),
        ("proposal.reject", "refused"),
    ]
