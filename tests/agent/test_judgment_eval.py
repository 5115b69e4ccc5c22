"""`warden eval --assume-signal / --cases-out`: simulated signals, per-case records, groups."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.interface import Recommendation
from ops import judgment
from ops.loaders import LabelledCase, load_dataset
from ops.mappings import load_mapping
from tools.models import Case, ContentItem
from warden.errors import InputError


def _row(i: int, group: str, label: str) -> LabelledCase:
    case = Case(
        id=f"hc-{i}",
        opened_at=datetime(2024, 1, 1, tzinfo=UTC),
        items=[ContentItem(id=f"hc-{i}-c", kind="comment", author_id="a", text="text")],
        source="evaluation",
    )
    return LabelledCase(
        case=case,
        positives=frozenset(),
        known=None,
        group=group,
        line=i,
        row_id=str(i),
        gold_label=label,
    )


def _rec(case: Case, verdict: str, escalate: bool = False) -> Recommendation:
    return Recommendation(
        case_id=case.id,
        policy_id="HA",
        policy_version="3",
        section_ids=["HA-3.2"] if verdict != "violating" else ["HA-2.2"],
        verdict=verdict,  # type: ignore[arg-type]
        severity=None,
        action=None,
        confidence=0.2,
        rationale="r",
        citations=[],
        escalate=escalate,
        mode="rules",
    )


def test_parse_signals_accepts_pairs_and_refuses_bad_ones() -> None:
    assert judgment.parse_signals(["hate=0.95", "hate/threatening=1"]) == {
        "hate": 0.95,
        "hate/threatening": 1.0,
    }
    for bad in ("hate", "hate=1.5", "=0.3", "hate=x"):
        with pytest.raises(InputError, match="NAME=SCORE"):
            judgment.parse_signals([bad])


def test_signals_are_set_on_every_case_and_content_is_kept() -> None:
    rows = judgment.with_signals([_row(1, "g", "hateful")], {"hate": 0.95})
    assert rows[0].case.signals == {"hate": 0.95}
    assert rows[0].case.items[0].text == "text"


def test_records_and_groups(tmp_path: Path) -> None:
    rows = [_row(1, "counter_quote_nh", "non-hateful"), _row(2, "slur_h", "hateful")]
    rows.append(_row(3, "slur_h", "hateful"))
    verdicts = {"hc-1": "borderline", "hc-2": "violating"}

    def recommend(case: Case) -> Recommendation:
        if case.id == "hc-3":
            return _rec(case, "violating", escalate=True)
        return _rec(case, verdicts[case.id])

    recorder = judgment.Recorder(recommend)
    for row in rows:
        recorder(row.case)
    records = recorder.records(rows)
    out = tmp_path / "cases.jsonl"
    judgment.write_records(out, records)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["1", "2", "3"]
    assert [r["verdict"] for r in lines] == ["borderline", "violating", "escalate"]
    assert lines[0]["label"] == "non-hateful" and lines[0]["sections"] == ["HA-3.2"]
    groups = {g.group: g for g in judgment.by_group(records)}
    assert groups["slur_h"].share("violating") == 0.5
    assert groups["slur_h"].share("escalate") == 0.5


def test_hatecheck_rows_carry_their_own_id_label_and_gold_exception(tmp_path: Path) -> None:
    path = tmp_path / "hatecheck_mini.csv"
    path.write_text(
        ",functionality,case_id,test_case,label_gold\n"
        '0,counter_quote_nh,77,"A made-up line, quoted to condemn it.",non-hateful\n',
        encoding="utf-8",
    )
    mapping = load_mapping("hatecheck")
    [row] = load_dataset(path, mapping)
    assert row.row_id == "77" and row.gold_label == "non-hateful"
    assert mapping.gold_sections["counter_quote_nh"] == "HA-3.2"
