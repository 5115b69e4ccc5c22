"""`warden eval-answers SET`: golden policy questions through `ask`, scored and stored.

A SET is JSONL, one question a line: `{"id", "question", "expected": [section ids]}` (an empty
or missing `expected`, or `"answerable": false`, means "no policy answers this": the right
answer abstains). Scores: citation precision and recall against the expected sections, and
abstention (false answers on unanswerable, false abstentions on answerable). Runs are appended
to `WARDEN_HOME/answer_runs.jsonl` keyed by set, prompt version and model, and each run is
compared with the previous run of the same set. An LLM-judge faithfulness score is not computed
yet (it needs a configured endpoint; see the issue's report).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.interface import PolicyAnswer
from warden.errors import InputError


@dataclass(frozen=True)
class Golden:
    id: str
    question: str
    expected: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.expected)


@dataclass
class AnswerRun:
    set: str
    prompt_version: str
    model: str | None
    at: str
    n: int
    citation_precision: float | None
    citation_recall: float | None
    false_answer: float | None
    false_abstain: float | None


def load_golden(path: Path) -> list[Golden]:
    if not path.is_file():
        raise InputError(f"{path}: question set not found")
    out: list[Golden] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            expected = () if raw.get("answerable") is False else tuple(raw.get("expected") or ())
            out.append(Golden(str(raw.get("id", number)), str(raw["question"]), expected))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path.name} line {number}: not a question row ({exc})") from exc
    return out


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def score(
    golden: list[Golden], answers: list[PolicyAnswer], *, name: str, prompt: str, model: str | None
) -> AnswerRun:
    precision: list[float] = []
    recall: list[float] = []
    false_answer = false_abstain = unanswerable = answerable = 0
    for g, a in zip(golden, answers, strict=True):
        cited = {c.section_id for c in a.citations}
        abstained = a.low_confidence
        if not g.answerable:
            unanswerable += 1
            false_answer += not abstained
            continue
        answerable += 1
        false_abstain += abstained
        if abstained:
            continue

        # A parent section (HA-2) covers its subsections (HA-2.1) and the other way round.
        def hit(sid: str, pool: set[str]) -> bool:
            return any(sid == p or sid.startswith(p + ".") or p.startswith(sid + ".") for p in pool)

        expected = set(g.expected)
        precision.append(sum(hit(c, expected) for c in cited) / len(cited) if cited else 0.0)
        recall.append(sum(hit(e, cited) for e in expected) / len(expected))
    return AnswerRun(
        set=name,
        prompt_version=prompt,
        model=model,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        n=len(golden),
        citation_precision=_mean(precision),
        citation_recall=_mean(recall),
        false_answer=round(false_answer / unanswerable, 4) if unanswerable else None,
        false_abstain=round(false_abstain / answerable, 4) if answerable else None,
    )


def runs_file(home: Path) -> Path:
    return home / "answer_runs.jsonl"


def previous(home: Path, name: str) -> AnswerRun | None:
    path = runs_file(home)
    if not path.is_file():
        return None
    found = None
    for line in path.read_text(encoding="utf-8").splitlines():
        raw: dict[str, Any] = json.loads(line)
        if raw.get("set") == name:
            found = AnswerRun(**raw)
    return found


def save(home: Path, run: AnswerRun) -> None:
    home.mkdir(parents=True, exist_ok=True)
    with runs_file(home).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(run)) + "\n")
