"""`warden eval-answers SET`: golden policy questions through `ask`, scored and stored.

A SET is JSONL, one question a line: `{"id", "question", "expected": [section ids]}` (an empty
or missing `expected`, or `"answerable": false`, means "no policy answers this": the right
answer abstains). Scores: citation precision and recall against the expected sections, and
abstention (false answers on unanswerable, false abstentions on answerable). Runs are appended
to `WARDEN_HOME/answer_runs.jsonl` keyed by set, prompt version and model, and each run is
compared with the previous run of the same set. When a model endpoint is configured, an LLM
judge splits each model-written answer into claims and says whether the cited sections support
each one: faithfulness = supported claims / claims, stored with the run.
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.interface import PolicyAnswer
from agent.llm import structured_call
from agent.prompts import JUDGE_SYSTEM
from agent.schemas import judge_schema
from warden.errors import InputError

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

log = logging.getLogger(__name__)


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
    faithfulness: float | None = None
    """Supported claims / claims by the LLM judge (None: no model endpoint, or nothing judged)."""
    claims: int = 0


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
            known = {f.name for f in fields(AnswerRun)}
            found = AnswerRun(**{k: v for k, v in raw.items() if k in known})
    return found


def save(home: Path, run: AnswerRun) -> None:
    home.mkdir(parents=True, exist_ok=True)
    with runs_file(home).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(run)) + "\n")


class JudgedClaim(BaseModel):
    claim: str
    supported: bool
    section_ids: list[str] = Field(default_factory=list)


class JudgeDraft(BaseModel):
    """The judge's reply: the answer's claims, each supported by the cited sections or not."""

    claims: list[JudgedClaim] = Field(default_factory=list)


@dataclass(frozen=True)
class Faithfulness:
    claims: int
    supported: int
    judged: int
    """Answers judged (LLM-mode answers that did not abstain and cite something)."""

    @property
    def score(self) -> float | None:
        return round(self.supported / self.claims, 4) if self.claims else None


def judge(
    model: BaseChatModel, answers: list[PolicyAnswer], section_text: dict[str, str]
) -> Faithfulness:
    """Each claim of each model-written answer judged against the full text of what it cites.

    Excerpt answers are quotes (faithful by construction) and abstentions make no claim, so
    only LLM-mode answers with citations are judged; a judge reply that cannot be used counts
    every claim of that answer as unjudged (it is left out, and logged), never as supported.
    """
    claims = supported = judged = 0
    for a in answers:
        cited = [c.section_id for c in a.citations]
        if a.mode != "llm" or a.low_confidence or not cited:
            continue
        sections = "\n\n".join(
            f"[{sid}]\n{section_text.get(sid) or c.excerpt}"
            for sid, c in zip(cited, a.citations, strict=True)
        )
        reply = structured_call(
            model,
            JudgeDraft,
            [
                SystemMessage(JUDGE_SYSTEM),
                HumanMessage(f"# Cited policy sections\n\n{sections}\n\n# Answer\n{a.text}"),
            ],
            name="faithfulness_judge",
            json_schema=judge_schema(cited),
        )
        if reply.parsed is None:
            log.warning("the judge's reply could not be used: %s", reply.problem)
            continue
        judged += 1
        claims += len(reply.parsed.claims)
        # A claim counts as supported only when it names a section that was cited.
        supported += sum(
            1 for c in reply.parsed.claims if c.supported and set(c.section_ids) & set(cited)
        )
    return Faithfulness(claims=claims, supported=supported, judged=judged)


def section_texts(policy_dirs: list[Path]) -> dict[str, str]:
    """The full text of every policy section by id (what the judge checks claims against)."""
    from knowledge.parsing import iter_files, parse_file

    out: dict[str, str] = {}
    for path, source in iter_files(policy_dirs):
        for section in parse_file(path, source).sections:
            if section.explicit_id and section.explicit_id not in out:
                text = "\n".join(b.text for b in section.blocks if b.text)
                out[section.explicit_id] = text
    return out
