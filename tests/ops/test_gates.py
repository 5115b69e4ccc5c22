"""Gates: an un-evaluated policy cannot propose; max batch size; shadow agreement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.evaluate import evaluate, save_run
from ops.loaders import EVAL_OPENED_AT, LabelledCase
from tests.ops.conftest import keyword_recommender
from tools.gates import (
    GateClosed,
    GateMode,
    check,
    load_gates,
    record_human_decision,
    record_shadow,
    set_mode,
    shadow_agreement,
    status_rows,
)
from tools.models import Case, ContentItem
from tools.store import Store
from warden.errors import InputError

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def gates_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(body)
    return path


def labelled(n_pos: int, n_neg: int, word: str, policy: str) -> list[LabelledCase]:
    rows = []
    for i in range(n_pos + n_neg):
        text = f"{word} item {i}" if i < n_pos else f"harmless item {i}"
        case = Case(
            id=f"t{i}",
            opened_at=EVAL_OPENED_AT,
            items=[ContentItem(id=f"c{i}", author_id="a", text=text)],
        )
        rows.append(
            LabelledCase(
                case=case,
                positives=frozenset({policy} if i < n_pos else set()),
                known=frozenset({policy}),
                line=i,
            )
        )
    return rows


def test_unevaluated_policy_cannot_propose(store: Store, tmp_path: Path) -> None:
    gates = load_gates(gates_file(tmp_path, "policies:\n  SP: {mode: propose, min_support: 5}\n"))
    decision = check(store, gates, "SP", 3)
    # The file says propose, but nothing was evaluated: refused, recorded in shadow instead.
    assert not decision.allowed
    assert decision.record_shadow
    assert "no stored evaluation" in decision.reason
    with pytest.raises(GateClosed, match="cannot be switched to propose"):
        set_mode(store, gates, "SP", GateMode.PROPOSE, actor="U1")


def test_passing_evaluation_opens_gate_and_failing_one_closes_it(
    store: Store, tmp_path: Path
) -> None:
    gates = load_gates(
        gates_file(
            tmp_path,
            "defaults: {min_support: 5, min_precision: 0.9}\npolicies:\n  SP: {mode: shadow}\n",
        )
    )
    good = evaluate(
        labelled(6, 4, "buynow", "SP"),
        keyword_recommender({"buynow": "SP"}),
        dataset="spam.jsonl",
        mapping="warden",
        mode="rules",
    )
    save_run(store, good)
    decision = set_mode(store, gates, "SP", GateMode.PROPOSE, actor="U1", now=NOW)
    assert decision.allowed and decision.mode is GateMode.PROPOSE
    assert decision.evidence is not None and decision.evidence.precision == 1.0
    # A newer run with poor precision (the recommender flags harmless items) closes the gate.
    bad = evaluate(
        labelled(6, 4, "buynow", "SP"),
        keyword_recommender({"item": "SP"}),
        dataset="spam.jsonl",
        mapping="warden",
        mode="rules",
    )
    save_run(store, bad)
    after = check(store, gates, "SP", 3)
    assert not after.allowed and after.record_shadow
    assert "precision 0.600 on 6" in after.reason


def test_small_run_does_not_count_and_batch_limit(store: Store, tmp_path: Path) -> None:
    gates = load_gates(
        gates_file(
            tmp_path,
            "defaults: {min_support: 5, max_batch_size: 10}\npolicies:\n  SP: {mode: shadow}\n",
        )
    )
    save_run(
        store,
        evaluate(
            labelled(3, 1, "buynow", "SP"),
            keyword_recommender({"buynow": "SP"}),
            dataset="tiny.jsonl",
            mapping="warden",
            mode="rules",
        ),
    )
    with pytest.raises(GateClosed, match="on 3 labelled cases"):
        set_mode(store, gates, "SP", GateMode.PROPOSE, actor="U1")
    save_run(
        store,
        evaluate(
            labelled(6, 0, "buynow", "SP"),
            keyword_recommender({"buynow": "SP"}),
            dataset="big.jsonl",
            mapping="warden",
            mode="rules",
        ),
    )
    set_mode(store, gates, "SP", GateMode.PROPOSE, actor="U1")
    assert check(store, gates, "SP", 10).allowed
    too_big = check(store, gates, "SP", 11)
    assert not too_big.allowed and "exceed" in too_big.reason and not too_big.record_shadow


def test_off_mode_and_defaults(store: Store, tmp_path: Path) -> None:
    gates = load_gates(gates_file(tmp_path, "policies:\n  CS: {mode: off}\n"))
    off = check(store, gates, "CS", 1)
    assert not off.allowed and not off.record_shadow
    unlisted = check(store, gates, "ZZ", 1)
    assert unlisted.mode is GateMode.SHADOW and unlisted.record_shadow


def test_gates_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"policies\.HA\.min_precision"):
        load_gates(gates_file(tmp_path, "policies:\n  HA: {min_precision: 2}\n"))
    with pytest.raises(InputError, match="cannot read"):
        load_gates(tmp_path / "missing.yaml")
    shipped = load_gates()
    assert shipped.rule("CS").mode is GateMode.OFF


def test_shadow_agreement_per_policy(store: Store) -> None:
    for case_id, action in [("k1", "remove"), ("k2", "remove"), ("k3", "strike")]:
        record_shadow(
            store,
            policy_id="HA",
            section_ids=["HA-2.1"],
            action=action,
            target_ids=["c1"],
            requester_id="agent",
            case_id=case_id,
            now=NOW,
        )
    record_shadow(
        store,
        policy_id="SP",
        section_ids=["SP-2"],
        action="remove",
        target_ids=["c9"] * 3,
        requester_id="agent",
        cluster_id="cl1",
        now=NOW,
    )
    assert record_human_decision(store, action="remove", decided_by="U2", case_id="k1") == 1
    assert record_human_decision(store, action=None, decided_by="U2", case_id="k2") == 1
    assert record_human_decision(store, action="strike", decided_by="U3", case_id="k3") == 1
    # A second decision on the same item does not settle it twice.
    assert record_human_decision(store, action="remove", decided_by="U4", case_id="k3") == 0
    rows = {a.policy_id: a for a in shadow_agreement(store)}
    assert (rows["HA"].recorded, rows["HA"].decided, rows["HA"].agreed) == (3, 3, 2)
    assert rows["HA"].rate == pytest.approx(2 / 3)
    assert rows["SP"].decided == 0 and rows["SP"].rate is None
    gates = load_gates()
    status = {r.policy_id: r for r in status_rows(store, gates, ["HA", "SP"])}
    assert status["HA"].shadow_recorded == 3
    assert status["HA"].shadow_agreement == pytest.approx(2 / 3)
    assert not status["HA"].can_propose
    assert "HA: shadow" in status["HA"].summary()
    with pytest.raises(InputError):
        record_human_decision(store, action="remove", decided_by="U2")


def test_override_is_shared_through_the_store(store: Store, tmp_path: Path) -> None:
    gates = load_gates(gates_file(tmp_path, "policies:\n  HA: {mode: shadow}\n"))
    set_mode(store, gates, "HA", GateMode.OFF, actor="lead", now=NOW + timedelta(minutes=1))
    other_replica = Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        assert check(other_replica, gates, "HA", 1).mode is GateMode.OFF
    finally:
        other_replica.close()


def test_shadow_settled_by_later_proposals(store: Store) -> None:
    from tests.ops.test_kpis import add_proposal
    from tools.gates import sync_shadow_from_proposals

    record_shadow(
        store,
        policy_id="HA",
        section_ids=["HA-2.1"],
        action="remove",
        target_ids=["c1"],
        requester_id="agent",
        case_id="k1",
        now=NOW,
    )
    record_shadow(
        store,
        policy_id="HA",
        section_ids=["HA-2.1"],
        action="remove",
        target_ids=["c2"],
        requester_id="agent",
        case_id="k2",
        now=NOW,
    )
    record_shadow(
        store,
        policy_id="HA",
        section_ids=["HA-2.1"],
        action="remove",
        target_ids=["c3"],
        requester_id="agent",
        case_id="k3",
        now=NOW,
    )
    add_proposal(store, "p1", "HA", NOW, NOW + timedelta(hours=1), "executed", case_id="k1")
    add_proposal(store, "p2", "HA", NOW, NOW + timedelta(hours=1), "rejected", case_id="k2")
    add_proposal(store, "p3", "HA", NOW, None, "pending", case_id="k3")  # not decided yet
    assert sync_shadow_from_proposals(store) == 2
    assert sync_shadow_from_proposals(store) == 0
    ha = shadow_agreement(store)[0]
    assert (ha.recorded, ha.decided, ha.agreed) == (3, 2, 1)
