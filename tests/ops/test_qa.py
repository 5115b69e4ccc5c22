"""QA sampling: deterministic by id, idempotent, one review per sample, quality scores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tools.qa import (
    Decided,
    get_sample,
    is_sampled,
    maybe_sample,
    pending,
    quality_scores,
    record_review,
    sample_many,
)
from tools.store import Store
from warden.errors import InputError

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def decided(i: int, policy: str = "HA", team: str | None = "bpo-a", who: str = "U1") -> Decided:
    return Decided(
        subject_type="case",
        subject_id=f"case-{i}",
        policy_id=policy,
        decision="remove under HA-2.1",
        decided_by=who,
        decided_at=NOW,
        vendor_team=team,
    )


def test_sampling_is_deterministic_and_close_to_rate() -> None:
    ids = [f"case-{i}" for i in range(20_000)]
    first = [i for i in ids if is_sampled(i, 0.02)]
    again = [i for i in ids if is_sampled(i, 0.02)]
    assert first == again
    assert 0.015 < len(first) / len(ids) < 0.025
    assert not any(is_sampled(i, 0.0) for i in ids[:500])
    assert all(is_sampled(i, 1.0) for i in ids[:500])
    # A larger rate samples a superset: raising the rate never drops an item already sampled.
    assert set(first) <= {i for i in ids if is_sampled(i, 0.05)}
    with pytest.raises(InputError):
        is_sampled("x", 1.5)


def test_maybe_sample_idempotent_and_reviews(store: Store) -> None:
    items = [decided(i) for i in range(200)]
    sampled = sample_many(store, items, rate=0.1, now=NOW)
    expected = [i for i in items if is_sampled(f"case:{i.subject_id}", 0.1)]
    assert [s.subject_id for s in sampled] == [i.subject_id for i in expected]
    assert sampled, "10% of 200 ids should sample some"
    # A second sweep (another replica) returns the same samples, no duplicates.
    again = sample_many(store, items, rate=0.1, now=NOW)
    assert [s.id for s in again] == [s.id for s in sampled]
    assert len(pending(store, limit=500)) == len(sampled)

    target = sampled[0]
    own = record_review(store, target.id, reviewer_id="U1", agree=True)
    assert not own.accepted and "another reviewer" in own.reason
    with pytest.raises(InputError, match="needs a reason"):
        record_review(store, target.id, reviewer_id="R1", agree=False, reason="  ")
    ok = record_review(store, target.id, reviewer_id="R1", agree=False, reason="should be label")
    assert ok.accepted and ok.sample.agree is False
    late = record_review(store, target.id, reviewer_id="R2", agree=True)
    assert not late.accepted and "R1" in late.reason
    assert get_sample(store, target.id).reviewer_id == "R1"


def test_quality_scores_by_policy_reviewer_and_vendor(store: Store) -> None:
    plan = [  # (policy, team, decider, reviewer, agree)
        ("HA", "bpo-a", "U1", "R1", True),
        ("HA", "bpo-a", "U1", "R1", True),
        ("HA", "bpo-b", "U2", "R2", False),
        ("SP", "bpo-b", "U2", "R1", True),
        ("SP", None, "U3", "R2", True),
    ]
    ids = []
    for n, (policy, team, who, _, _) in enumerate(plan):
        s = maybe_sample(store, decided(n, policy, team, who), rate=1.0, now=NOW)
        assert s is not None
        ids.append(s.id)
    maybe_sample(store, decided(99), rate=1.0, now=NOW)  # sampled, never reviewed
    for sid, (_, _, _, reviewer, agree) in zip(ids, plan, strict=True):
        record_review(
            store, sid, reviewer_id=reviewer, agree=agree, reason=None if agree else "wrong section"
        )
    q = quality_scores(store)
    assert (q.sampled, q.reviewed) == (6, 5)
    assert q.overall == pytest.approx(4 / 5)
    by_policy = {s.key: (s.reviewed, s.agreed) for s in q.by_policy}
    assert by_policy == {"HA": (3, 2), "SP": (2, 2)}
    assert {s.key: s.rate for s in q.by_vendor_team} == {"(none)": 1.0, "bpo-a": 1.0, "bpo-b": 0.5}
    assert {s.key: s.rate for s in q.by_reviewer} == {"R1": 1.0, "R2": 0.5}
    assert {s.key: s.rate for s in q.by_decider} == {"U1": 1.0, "U2": 0.5, "U3": 1.0}


def test_decided_items_from_the_store(store: Store) -> None:
    from datetime import timedelta

    from tests.ops.test_kpis import add_case, add_escalation, add_proposal
    from tools.fanout_tables import LedgerRow
    from tools.qa import decided_items

    h = timedelta(hours=1)
    add_case(store, "c1", NOW - 3 * h, team="bpo-a")
    add_proposal(store, "p1", "HA", NOW - 3 * h, NOW - 2 * h, "executed", case_id="c1")
    add_proposal(store, "p2", "SP", NOW - 3 * h, None, "pending")  # undecided: not sampled
    add_case(store, "c2", NOW - 3 * h)
    add_escalation(store, "e1", "GV", "P1", NOW - 3 * h, h, resolved=NOW - h, case_id="c2")
    with store.session() as s:
        s.add(
            LedgerRow(
                proposal_id="p1",
                seq=1,
                idempotency_key="p1:content:x:remove",
                target_type="content",
                target_id="x",
                action="remove",
                section_id="HA-2.1",
                status="applied",
                applied_at=NOW - h,
            )
        )
        s.add(
            LedgerRow(
                proposal_id="p1",
                seq=2,
                idempotency_key="p1:content:y:remove",
                target_type="content",
                target_id="y",
                action="remove",
                section_id="HA-2.1",
                status="pending",
            )
        )
    items = decided_items(store, since=NOW - 10 * h)
    got = {(i.subject_type, i.subject_id): i for i in items}
    assert set(got) == {("case", "c1"), ("case", "c2"), ("action", "p1:content:x:remove")}
    assert got[("case", "c1")].vendor_team == "bpo-a"
    assert got[("case", "c1")].decision.startswith("approved: remove")
    assert got[("action", "p1:content:x:remove")].policy_id == "HA"
    assert got[("action", "p1:content:x:remove")].vendor_team == "bpo-a"
    assert got[("case", "c2")].policy_id == "GV"
    assert decided_items(store, since=NOW) == []
    assert len(sample_many(store, items, rate=1.0, now=NOW)) == 3
