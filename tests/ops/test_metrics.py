"""Metrics on hand-made confusion data: exact numbers."""

from __future__ import annotations

import pytest

from knowledge.vocabulary import ActionType
from ops.loaders import EVAL_OPENED_AT, LabelledCase
from ops.metrics import Prediction, compute
from tools.models import Case, ContentItem


def row(
    i: int, positives: set[str], known: set[str] | None, action: str | None = None, group: str = "g"
) -> LabelledCase:
    case = Case(
        id=f"r{i}",
        opened_at=EVAL_OPENED_AT,
        items=[ContentItem(id=f"c{i}", author_id="a", text="x")],
    )
    return LabelledCase(
        case=case,
        positives=frozenset(positives),
        known=None if known is None else frozenset(known),
        expected_action=ActionType(action) if action else None,
        group=group,
        line=i,
    )


def pred(i: int, outcome: str, policy: str | None = None, action: str | None = None) -> Prediction:
    return Prediction(
        case_id=f"r{i}",
        outcome=outcome,
        policy_id=policy,  # type: ignore[arg-type]
        action=ActionType(action) if action else None,
        confidence=0.5,
        mode="rules",
    )


def test_binary_metrics_and_confusion_exact() -> None:
    # Scope HA and HB; labels: 4 HA, 2 HB, 3 none, 1 HA-unknown row (HB known negative).
    rows = [
        row(0, {"HA"}, {"HA", "HB"}),
        row(1, {"HA"}, {"HA", "HB"}),
        row(2, {"HA"}, {"HA", "HB"}),
        row(3, {"HA"}, {"HA", "HB"}),
        row(4, {"HB"}, {"HA", "HB"}),
        row(5, {"HB"}, {"HA", "HB"}),
        row(6, set(), {"HA", "HB"}),
        row(7, set(), {"HA", "HB"}),
        row(8, set(), {"HA", "HB"}),
        row(9, set(), {"HB"}),
    ]
    preds = [
        pred(0, "violating", "HA"),
        pred(1, "violating", "HA"),
        pred(2, "violating", "HB"),
        pred(3, "abstained", "HA"),
        pred(4, "violating", "HB"),
        pred(5, "escalated"),
        pred(6, "violating", "HA"),
        pred(7, "not_violating"),
        pred(8, "not_violating"),
        pred(9, "violating", "HA"),  # HA unknown here: must not count as a false positive
    ]
    m = compute(rows, preds)
    ha, hb = m.policy("HA"), m.policy("HB")
    assert (ha.tp, ha.fp, ha.fn, ha.tn, ha.unknown) == (2, 1, 2, 4, 1)
    assert ha.precision == pytest.approx(2 / 3)
    assert ha.recall == pytest.approx(0.5)
    assert ha.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert ha.support == 4 and ha.labelled == 9
    assert (ha.abstained, ha.escalated) == (1, 1)
    assert (hb.tp, hb.fp, hb.fn, hb.tn) == (1, 1, 1, 7)
    assert hb.precision == 0.5 and hb.recall == 0.5
    # Counting the borderline HA draft as a flag turns row 3 into a true positive.
    flagged = {f.key: f for f in m.flagged}["HA"]
    assert (flagged.tp, flagged.fn) == (3, 1)
    assert m.outcomes == {"violating": 6, "abstained": 1, "escalated": 1, "not_violating": 2}
    c = m.confusion
    assert c.rows == ["HA", "HB", "none"]
    assert c.columns == ["HA", "HB", "none", "abstained", "escalated"]
    assert c.matrix == [[2, 1, 0, 1, 0], [0, 1, 0, 0, 1], [1, 0, 2, 0, 0]]
    assert c.excluded == 1


def test_undefined_precision_is_none_not_zero() -> None:
    rows = [row(0, {"HA"}, {"HA"}), row(1, set(), {"HA"})]
    preds = [pred(0, "abstained"), pred(1, "not_violating")]
    ha = compute(rows, preds).policy("HA")
    assert ha.precision is None
    assert ha.recall == 0.0
    assert ha.f1 is None


def test_per_action_and_groups() -> None:
    rows = [
        row(0, {"SP"}, None, "remove", "spam"),
        row(1, {"SP"}, None, "label", "spam"),
        row(2, set(), None, None, "benign"),
        row(3, {"HA"}, None, "remove", "hate"),
    ]
    preds = [
        pred(0, "violating", "SP", "remove"),
        pred(1, "violating", "SP", "remove"),
        pred(2, "violating", "HA", "remove"),
        pred(3, "not_violating"),
    ]
    m = compute(rows, preds)
    actions = {a.key: a for a in m.actions}
    assert (actions["remove"].tp, actions["remove"].fp, actions["remove"].fn) == (1, 1, 1)
    assert (actions["label"].tp, actions["label"].fn) == (0, 1)
    # Own format (known=None): every answered policy is scored; row 2 is an HA false positive.
    assert m.policy("HA").fp == 1 and m.policy("HA").fn == 1
    groups = {g.group: g for g in m.groups}
    assert (groups["spam"].correct, groups["spam"].wrong) == (2, 0)
    assert groups["benign"].accuracy == 0.0
    assert groups["hate"].wrong == 1


def test_group_flag_accuracy_counts_borderline_drafts() -> None:
    # Counter-speech (no positives): a borderline HA draft is right strictly, wrong as a flag.
    rows = [row(i, set(), {"HA"}, None, "counter") for i in range(4)]
    preds = [
        pred(0, "abstained", "HA"),
        pred(1, "abstained", "HA"),
        pred(2, "not_violating"),
        pred(3, "escalated"),
    ]
    g = compute(rows, preds).groups[0]
    assert (g.correct, g.wrong, g.abstained, g.escalated) == (1, 0, 2, 1)
    assert g.accuracy == 1.0
    assert (g.flag_correct, g.flag_wrong) == (1, 2)
    assert g.flag_accuracy == pytest.approx(1 / 3)


def test_length_mismatch_refused() -> None:
    with pytest.raises(ValueError):
        compute([row(0, set(), None)], [])
