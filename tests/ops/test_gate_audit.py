"""Gate changes are audited, critical-harm gates need two people, QA closes the loop:
stratified samples, a disagreement counts against its policy's gate and can drop it to shadow
(the reversal proposal it opens for an enforced item: tests/tools/test_qa_reversal.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.evaluate import evaluate, save_run
from tests.ops.conftest import keyword_recommender
from tests.ops.test_gates import gates_file, labelled
from tools import audit
from tools.gates import GateMode, Gates, SecondPersonNeeded, check, load_gates, set_mode
from tools.qa import Decided, record_review, sample_stratified, stratified_choice
from tools.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _evaluated(store: Store, tmp_path: Path, policy: str) -> Gates:
    gates = load_gates(
        gates_file(
            tmp_path,
            "defaults: {min_support: 5, min_precision: 0.9, min_qa_reviews: 3}\n"
            f"policies:\n  {policy}: {{mode: shadow}}\n",
        )
    )
    run = evaluate(
        labelled(6, 4, "buynow", policy),
        keyword_recommender({"buynow": policy}),
        dataset="own.jsonl",
        mapping="warden",
        mode="rules",
    )
    save_run(store, run)
    return gates


def test_gate_changes_are_in_the_hash_chained_log(store: Store, tmp_path: Path) -> None:
    gates = _evaluated(store, tmp_path, "SP")
    set_mode(store, gates, "SP", GateMode.PROPOSE, actor="U1", now=NOW)
    set_mode(store, gates, "SP", GateMode.OFF, actor="U2", now=NOW)
    events = audit.events(store, subject="gate:SP")
    assert [(e.verb, e.actor, e.details["from"], e.details["to"]) for e in events] == [
        ("gate.set", "U1", "shadow", "propose"),
        ("gate.set", "U2", "propose", "off"),
    ]
    assert audit.verify(store).ok


def test_a_critical_harm_gate_opens_only_with_a_second_person(store: Store, tmp_path: Path) -> None:
    gates = _evaluated(store, tmp_path, "HA")
    with pytest.raises(SecondPersonNeeded, match="second person"):
        set_mode(store, gates, "HA", GateMode.PROPOSE, actor="U1", now=NOW)
    # The requester again is not a second person.
    with pytest.raises(SecondPersonNeeded, match="Requested by U1"):
        set_mode(store, gates, "HA", GateMode.PROPOSE, actor="U1", now=NOW)
    assert check(store, gates, "HA", 1).mode is GateMode.SHADOW
    decision = set_mode(store, gates, "HA", GateMode.PROPOSE, actor="U2", now=NOW)
    assert decision.mode is GateMode.PROPOSE and decision.allowed
    verbs = [(e.verb, e.actor) for e in audit.events(store, subject="gate:HA")]
    assert verbs == [("gate.set.requested", "U1"), ("gate.set", "U2")]
    assert audit.events(store, subject="gate:HA")[-1].details["requested_by"] == "U1"
    # Narrowing automation never waits for a second person.
    set_mode(store, gates, "HA", GateMode.SHADOW, actor="U3", now=NOW)
    assert check(store, gates, "HA", 1).mode is GateMode.SHADOW


def _decided(n: int, **fields: str) -> list[Decided]:
    return [
        Decided(
            subject_type="action",
            subject_id=f"p:content:{fields.get('policy_id', 'SP')}-{i}:remove",
            policy_id=fields.get("policy_id", "SP"),
            decision="remove",
            decided_by=fields.get("decided_by", "U1"),
            decided_at=NOW - timedelta(hours=1),
            vendor_team=fields.get("vendor_team", "bpo-a"),
            automation=fields.get("automation", "bulk"),
        )
        for i in range(n)
    ]


def test_stratified_sampling_reaches_small_strata() -> None:
    big = _decided(400)
    small = _decided(
        6, policy_id="HA", decided_by="U7", vendor_team="bpo-b", automation="specialist"
    )
    flat = [i for i in big + small if i.policy_id == "HA"]
    chosen = stratified_choice(big + small, rate=0.02, minimum=2)
    assert sum(1 for i in chosen if i.policy_id == "SP") == 8  # 2% of 400
    assert sum(1 for i in chosen if i.policy_id == "HA") == 2  # the minimum, not 2% of 6 = 0
    assert len(flat) == 6
    assert stratified_choice(list(reversed(big + small)), rate=0.02, minimum=2) == chosen


def test_a_disagreement_counts_against_the_gate_and_drops_it_to_shadow(
    store: Store, tmp_path: Path
) -> None:
    gates = _evaluated(store, tmp_path, "SP")
    set_mode(store, gates, "SP", GateMode.PROPOSE, actor="U1", now=NOW)
    samples = sample_stratified(store, _decided(3), rate=1.0, now=NOW)
    assert len(samples) == 3
    first = record_review(
        store,
        samples[0].id,
        reviewer_id="R1",
        agree=False,
        reason="SP-3 exception",
        now=NOW,
        gates=gates,
    )
    # These actions were never applied in this store: nothing to reverse, the verdict counts.
    assert first.accepted and "nothing to reverse" in first.reason and not first.gate_dropped
    record_review(store, samples[1].id, reviewer_id="R1", agree=True, now=NOW, gates=gates)
    third = record_review(
        store,
        samples[2].id,
        reviewer_id="R1",
        agree=False,
        reason="not spam",
        now=NOW,
        gates=gates,
    )
    # 1 of 3 agreed, below 0.9 on the 3 reviews the gate asks for: back to shadow, audited.
    assert third.gate_dropped and "fell back to shadow" in third.reason
    assert check(store, gates, "SP", 1).mode is GateMode.SHADOW
    dropped = audit.events(store, subject="gate:SP")[-1]
    assert (dropped.actor, dropped.details["to"], dropped.details["qa_reviewed"]) == (
        "warden:qa",
        "shadow",
        3,
    )
    disagreements = audit.events(store, verb="qa.disagreed")
    assert [e.subject for e in disagreements] == [
        f"action:{samples[0].subject_id}",
        f"action:{samples[2].subject_id}",
    ]


def test_quality_scores_per_automation_path(store: Store) -> None:
    from tools.qa import quality_scores

    bulk = sample_stratified(store, _decided(2), rate=1.0, now=NOW)
    own = sample_stratified(
        store, _decided(1, policy_id="HA", automation="specialist"), rate=1.0, now=NOW
    )
    record_review(store, bulk[0].id, reviewer_id="R1", agree=True, now=NOW)
    record_review(store, own[0].id, reviewer_id="R1", agree=True, now=NOW)
    scores = {s.key: s.reviewed for s in quality_scores(store).by_automation}
    assert scores == {"bulk": 1, "specialist": 1}
