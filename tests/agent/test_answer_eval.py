"""`warden eval-answers`: citation precision/recall, abstention, runs compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import answer_eval
from agent.interface import Citation, PolicyAnswer
from warden.errors import InputError


def _answer(*ids: str, low: bool = False) -> PolicyAnswer:
    cites = [
        Citation(
            section_id=i, title="t", policy_id="HA", policy_version="3", source="s", excerpt=""
        )
        for i in ids
    ]
    return PolicyAnswer(text="x", citations=cites, mode="excerpts", low_confidence=low)


def test_scores_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"id": "a", "question": "q1", "expected": ["HA-2.1"]}\n'
        '{"id": "b", "question": "q2", "expected": ["HA-2.2", "HA-3.2"]}\n'
        '{"id": "c", "question": "lunch photo?", "answerable": false}\n',
        encoding="utf-8",
    )
    golden = answer_eval.load_golden(path)
    answers = [_answer("HA-2.1", "HA-2.3"), _answer("HA-2.2"), _answer("HB-2.1")]
    run = answer_eval.score(golden, answers, name="set.jsonl", prompt="p1", model=None)
    assert run.citation_precision == pytest.approx(0.75)
    assert run.citation_recall == pytest.approx(0.75)
    assert run.false_answer == 1.0 and run.false_abstain == 0.0
    assert answer_eval.previous(tmp_path, "set.jsonl") is None
    answer_eval.save(tmp_path, run)
    prev = answer_eval.previous(tmp_path, "set.jsonl")
    assert prev is not None and prev.prompt_version == "p1"


def test_a_bad_row_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 1"):
        answer_eval.load_golden(path)
