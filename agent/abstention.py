"""When to say "no policy covers this": a rule chosen on a labelled set, and its error rates.

    warden eval-abstention            # prints the chosen rule and its rates on the set

The set: `agent/eval/abstention.jsonl` (questions no policy answers, off-topic and near-topic,
written for Warden) next to the answerable golden questions of `knowledge/questions/
warden_questions.jsonl`. Two signals are read from one retrieval: the best dense similarity
(`confidence`) and lexical agreement (the share of the question's content words that the best
sections contain). A question is answered when either is strong enough; the thresholds are
chosen on the set (the pair with the lowest worse-of-the-two error rate).

Questions written in another language get a note: the policies are English documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.citations import Retrieval, retrieve

if TYPE_CHECKING:
    from agent.deps import Deps

SET_FILE = Path(__file__).resolve().parent / "eval" / "abstention.jsonl"
ANSWERABLE_FILE = (
    Path(__file__).resolve().parents[1] / "knowledge" / "questions" / "warden_questions.jsonl"
)
_WORD = re.compile(r"[a-z]+")
# Words every question uses whatever its topic: they say nothing about being covered.
_GENERIC = frozenset(
    """a an and are as at be been but by can could do does for from has have how i if in into is
    it its of on or our so such that the their them there these they this to was we what when
    where which who why will with would you your about any not no my me ok okay fine allowed
    allow rule rules policy policies post posting posts pin pins lumen section cite user users
    someone something thing get got should say says said under us make made""".split()  # noqa: SIM905
)
ENGLISH_NOTE = (
    "Note: Warden's policies are English documents; this answer is grounded on them, so check "
    "the wording of a question in another language against the cited sections."
)
_ENGLISH_HINTS = frozenset(
    "the is are an of to and in for on with what how does do can it this that be".split()  # noqa: SIM905
)
# Function words of other languages written in Latin letters (es, fr, de, it, pt, nl, sv).
_OTHER_HINTS = frozenset(
    """de la el los las un una que es en por con para les des le du est une pas et der die das
    und ist ein eine nicht mit il lo di che per non och het een niet ik je""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Rule:
    """Answer when the best dense match or the lexical agreement reaches its threshold."""

    min_confidence: float
    min_overlap: float

    def answers(self, confidence: float, overlap: float) -> bool:
        return confidence >= self.min_confidence or (
            overlap >= self.min_overlap and confidence >= self.min_confidence - 0.15
        )


# Chosen with `warden eval-abstention --choose` on the set above (see the README figures).
RULE = Rule(min_confidence=0.485, min_overlap=0.4)


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def content_words(text: str) -> set[str]:
    return {_fold(w) for w in _WORD.findall(text.lower()) if w not in _GENERIC and len(w) > 2}


def overlap(question: str, found: Retrieval, top: int = 3) -> float:
    """Share of the question's content words found in the best sections' text and titles."""
    wanted = content_words(question)
    if not wanted:
        return 0.0
    have: set[str] = set()
    for s in found.sections[:top]:
        have |= content_words(f"{s.title} {s.text}")
    return len(wanted & have) / len(wanted)


def abstains(question: str, found: Retrieval, rule: Rule = RULE) -> bool:
    """True when no retrieved policy section should be presented as covering the question."""
    if not found.sections:
        return True
    return not rule.answers(found.confidence, overlap(question, found))


def looks_non_english(text: str) -> bool:
    """A question mostly in another language (non-Latin letters, or no English function word)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    if sum(not c.isascii() for c in letters) / len(letters) > 0.2:
        return True
    words = _WORD.findall(text.lower())
    english = sum(w in _ENGLISH_HINTS for w in words)
    other = sum(w in _OTHER_HINTS for w in words)
    return len(words) >= 4 and other > english


@dataclass(frozen=True)
class Labelled:
    id: str
    question: str
    answerable: bool
    kind: str


def load_set(path: Path = SET_FILE, answerable: Path = ANSWERABLE_FILE) -> list[Labelled]:
    rows: list[Labelled] = []
    for file in (path, answerable):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            rows.append(
                Labelled(
                    id=str(raw["id"]),
                    question=str(raw["question"]),
                    answerable=bool(raw.get("answerable", bool(raw.get("expected")))),
                    kind=str(raw.get("kind", "answerable")),
                )
            )
    return rows


@dataclass(frozen=True)
class Rates:
    false_answer: float
    false_abstain: float
    unanswerable: int
    answerable: int


def rates(rows: list[Labelled], features: list[tuple[float, float]], rule: Rule) -> Rates:
    pairs = list(zip(rows, features, strict=True))
    fa = sum(1 for r, f in pairs if not r.answerable and rule.answers(*f))
    fb = sum(1 for r, f in pairs if r.answerable and not rule.answers(*f))
    n_un = sum(1 for r in rows if not r.answerable)
    n_an = len(rows) - n_un
    return Rates(fa / max(1, n_un), fb / max(1, n_an), n_un, n_an)


def measure(deps: Deps, rows: list[Labelled]) -> list[tuple[float, float]]:
    out = []
    for r in rows:
        found = retrieve(deps, r.question)
        out.append((found.confidence, overlap(r.question, found)))
    return out


def choose(rows: list[Labelled], features: list[tuple[float, float]]) -> tuple[Rule, Rates]:
    """The thresholds with the lowest worse-of-the-two error rate (ties: fewer false answers)."""
    best: tuple[tuple[float, float], Rule, Rates] | None = None
    for c in range(200, 701, 5):
        for o in range(0, 11):
            rule = Rule(min_confidence=c / 1000, min_overlap=o / 10)
            got = rates(rows, features, rule)
            key = (max(got.false_answer, got.false_abstain), got.false_answer)
            if best is None or key < best[0]:
                best = (key, rule, got)
    assert best is not None
    return best[1], best[2]


def cross_validated(rows: list[Labelled], features: list[tuple[float, float]]) -> Rates:
    """Leave-one-out rates of `choose`: each question judged by thresholds chosen without it.

    What the in-sample rates of the chosen rule hide: how well choosing generalises to
    questions the thresholds were not fitted on.
    """
    false_answer = false_abstain = 0
    for i, (row, feature) in enumerate(zip(rows, features, strict=True)):
        rule, _ = choose(rows[:i] + rows[i + 1 :], features[:i] + features[i + 1 :])
        answered = rule.answers(*feature)
        false_answer += int(not row.answerable and answered)
        false_abstain += int(row.answerable and not answered)
    n_un = sum(not r.answerable for r in rows)
    n_an = len(rows) - n_un
    return Rates(false_answer / max(1, n_un), false_abstain / max(1, n_an), n_un, n_an)
