"""A QA disagreement opens a reversal proposal (origin qa) for what the decision enforced:
four-eyes as the policy asks, never the reviewer who opened it, executed exactly once by the
fanout through the platform's reversal; it lifts the strike and restriction as an appeal
overturn does, tells the account (a notice the Transparency Database never gets), and an
appeal overturn afterwards replays the same reversal key instead of reversing twice."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType
from tests.tools.test_appeals import _decide_removal, _seed_strike
from tests.tools.test_casework import ANA, BEN, CHIDI, load
from tools import appeals, audit, dsa, operations, proposals
from tools.fanout import execute, idempotency_key
from tools.gateway import LocalPlatform, reversal_key
from tools.models import ProposalStatus
from tools.qa import Decided, decided_items, record_review, sample_stratified
from tools.store import Store, utcnow
from tools.strikes import account_report
from tools.tables import ContentRow, StatementRow, StrikeRow
from warden.errors import ApprovalError

APPROVERS = {ANA, BEN, CHIDI}


def _disagree(store: Store, catalogue: Catalogue, item: Decided, reviewer: str = CHIDI) -> str:
    (sample,) = sample_stratified(store, [item], rate=1.0)
    result = record_review(
        store,
        sample.id,
        reviewer_id=reviewer,
        agree=False,
        reason="counter-speech: it condemns the comparison",
        catalogue=catalogue,
    )
    assert result.accepted and result.reversal_proposal_id, result.reason
    assert result.follow_up and "reversal proposal" in result.follow_up
    return result.reversal_proposal_id


def test_a_disagreement_reverses_the_case_through_the_fanout_once(
    store: Store, catalogue: Catalogue
) -> None:
    load(store)
    _seed_strike(store, "acct-h")  # 1 + the removal's strike = 2: limited distribution
    platform = LocalPlatform(store.engine)
    decision = _decide_removal(store, catalogue)  # ANA removes ha-1 (HA: critical harm)
    assert account_report(store, catalogue, "acct-h").status == "limited"
    (item,) = [i for i in decided_items(store, since=utcnow() - timedelta(hours=1))
               if i.subject_type == "case"]  # fmt: skip
    with io.StringIO() as out:
        exported_before = dsa.export_dsa(store, catalogue, out)[0]

    reversal_id = _disagree(store, catalogue, item)
    reversal = proposals.get_proposal(store, reversal_id)
    assert (reversal.origin, reversal.reverses, reversal.status) == ("qa", decision, "pending")
    assert reversal.requester_id == CHIDI and reversal.required_approvals == 2
    assert [(a.target_id, a.action) for a in reversal.actions] == [("ha-1", ActionType.REMOVE)]
    # Nothing changes before approval; the reviewer who opened it cannot approve it.
    assert platform.target("content", "ha-1").removals == 1  # type: ignore[union-attr]
    own = proposals.approve(store, reversal_id, CHIDI, reversal.action_hash, approvers=APPROVERS)
    assert not own.accepted and "requester" in own.reason
    with pytest.raises(ApprovalError, match="only an approved one"):
        execute(store, platform, reversal_id, catalogue=catalogue)
    first = proposals.approve(store, reversal_id, ANA, reversal.action_hash, approvers=APPROVERS)
    assert first.accepted and first.status == ProposalStatus.PENDING  # four eyes: one more
    second = proposals.approve(store, reversal_id, BEN, reversal.action_hash, approvers=APPROVERS)
    assert second.status == ProposalStatus.APPROVED

    result = execute(store, platform, reversal_id, catalogue=catalogue)
    assert (result.status, result.applied, result.failed) == (ProposalStatus.EXECUTED, 1, 0)
    removal_key = idempotency_key(decision, reversal.actions[0])
    assert platform.target("content", "ha-1").removals == 0  # type: ignore[union-attr]
    assert [r.idempotency_key for r in platform.receipts(decision)
            if r.action.startswith("reverse_")] == [reversal_key(removal_key)]  # fmt: skip
    report = account_report(store, catalogue, "acct-h")
    assert report.status == "active" and report.active_restrictions == []
    assert [s.id for s in report.active_strikes] == ["seed-acct-h"]  # the decision's strike gone
    with store.session() as s:
        (notice,) = s.scalars(
            select(StatementRow).where(StatementRow.action_key.startswith("reversal:"))
        ).all()
        assert notice.account_id == "acct-h" and "reversed" in notice.data["restriction"]
        assert "content is restored" in notice.data["scope"].lower()
    with io.StringIO() as out:
        assert dsa.export_dsa(store, catalogue, out)[0] == exported_before  # a notice: not filed
    verbs = [e.verb for e in audit.events(store, subject=f"proposal:{reversal_id}")]
    assert verbs[0] == "proposal.created" and verbs[-1] == "proposal.executed"
    (reversed_event,) = audit.events(store, verb="action.reversed")
    assert reversed_event.details["reverses"] == decision
    (disagreed,) = audit.events(store, verb="qa.disagreed")
    assert disagreed.details["reversal_proposal_id"] == reversal_id
    account_sources = {(e.verb, e.source) for e in audit.events(store, subject="account:acct-h")}
    assert ("strike.overturned", "qa") in account_sources
    assert ("restriction.lifted", "qa") in account_sources

    # Exactly once: running it again changes nothing.
    with pytest.raises(ApprovalError):
        execute(store, platform, reversal_id, catalogue=catalogue)
    assert platform.target("content", "ha-1").removals == 0  # type: ignore[union-attr]
    # The same decision's action sampled again: already reversed, nothing new proposed.
    (action_item,) = [i for i in decided_items(store, since=utcnow() - timedelta(hours=1))
                      if i.subject_type == "action" and i.subject_id == removal_key]  # fmt: skip
    (again,) = sample_stratified(store, [action_item], rate=1.0)
    repeat = record_review(store, again.id, reviewer_id=CHIDI, agree=False, reason="same",
                           catalogue=catalogue)  # fmt: skip
    assert repeat.accepted and repeat.reversal_proposal_id is None
    assert "already reversed" in repeat.reason
    # An appeal overturn afterwards sends the same reversal key: a replay, not a second undo.
    appeal = appeals.file_appeal(store, catalogue, "c-ha", reason="it was counter-speech")
    outcome = appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=BEN,
                                    outcome="overturned", reason="agreed")  # fmt: skip
    assert outcome.restored == [reversal_key(removal_key)] and outcome.strikes_overturned == []
    assert len([r for r in platform.receipts(decision) if r.action.startswith("reverse_")]) == 1
    assert audit.verify(store).ok
    # The ops report: review notices are not actions applied, a reversal is no case decision.
    now = utcnow() + timedelta(minutes=1)
    ops = operations.compute(store, catalogue, since=now - timedelta(days=1), now=now)
    assert {a.action for a in ops.actions} == {"remove", "strike", "limit_distribution"}
    assert [(t.key, t.n) for t in ops.by_pod] == [("critical-harms", 1)]


def test_reversing_one_item_of_a_bulk_removal_keeps_the_strike_its_other_items_earn(
    store: Store, catalogue: Catalogue
) -> None:
    from tests.tools.fanout_child import seed_approved_proposal

    bulk = seed_approved_proposal(store, catalogue, n=4, authors=2)
    platform = LocalPlatform(store.engine)
    execute(store, platform, bulk.id, catalogue=catalogue)
    with store.session() as s:
        author = {a.target_id: s.get(ContentRow, a.target_id).author_id  # type: ignore[union-attr]
                  for a in bulk.actions}  # fmt: skip
    first, *rest = bulk.actions
    same_author = [a for a in rest if author[a.target_id] == author[first.target_id]]
    items = {i.subject_id: i for i in decided_items(store, since=utcnow() - timedelta(hours=1))}

    def reverse(action_key: str) -> None:
        reversal_id = _disagree(store, catalogue, items[action_key])
        digest = proposals.get_proposal(store, reversal_id).action_hash
        for approver in (ANA, BEN):
            proposals.approve(store, reversal_id, approver, digest, approvers=APPROVERS)
        assert execute(store, platform, reversal_id, catalogue=catalogue).applied == 1

    def strike_standing() -> bool:
        with store.session() as s:
            return not s.scalars(
                select(StrikeRow.overturned).where(
                    StrikeRow.account_id == author[first.target_id],
                    StrikeRow.source_action_key.startswith(f"{bulk.id}:"),
                )
            ).one()

    reverse(idempotency_key(bulk.id, first))
    assert platform.target("content", first.target_id).removals == 0  # type: ignore[union-attr]
    assert strike_standing()  # the author's other removal under the decision still stands
    with store.session() as s:
        (told,) = s.scalars(
            select(StatementRow.data).where(StatementRow.action_key.startswith("reversal:"))
        ).all()
    assert "content is restored" in told["scope"] and "still stands" in told["scope"]
    for other in same_author:
        reverse(idempotency_key(bulk.id, other))
    assert not strike_standing()  # nothing of the decision against the author stands now
    untouched = [a for a in rest if author[a.target_id] != author[first.target_id]]
    assert all(platform.target("content", a.target_id).removals == 1  # type: ignore[union-attr]
               for a in untouched)  # fmt: skip


def test_nothing_enforced_nothing_to_reverse(store: Store, catalogue: Catalogue) -> None:
    load(store)
    from tools import casework

    casework.decide(store, catalogue, None, "c-gv", actor=ANA, verdict="not_violating",
                    reason="fine")  # fmt: skip
    item = Decided(
        subject_type="case",
        subject_id="c-gv",
        policy_id="GV",
        decision="not violating",
        decided_by=ANA,
        decided_at=utcnow(),
        automation="specialist",
    )
    (sample,) = sample_stratified(store, [item], rate=1.0)
    result = record_review(store, sample.id, reviewer_id=CHIDI, agree=False,
                           reason="it is cruelty", catalogue=catalogue)  # fmt: skip
    assert result.accepted and result.reversal_proposal_id is None
    assert "nothing to reverse" in result.reason
    (event,) = audit.events(store, verb="qa.disagreed")
    assert event.outcome == "nothing to reverse"
    assert proposals.list_proposals(store, status=ProposalStatus.PENDING) == []
