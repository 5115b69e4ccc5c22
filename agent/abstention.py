"""When to say "no policy covers this": a rule chosen on a labelled set, and its error rates.

    warden eval-abstention            # prints the rule in use and its rates on the set
    warden eval-abstention --choose   # also fits the rules again, with leave-one-out rates

The set: `agent/eval/abstention.jsonl` (questions no policy answers, off-topic and near-topic,
written for Warden) next to the answerable golden questions of `knowledge/questions/
warden_questions.jsonl`. Five signals are read from one retrieval: the best dense similarity
(`confidence`), lexical agreement (the share of the question's content words that the best
sections contain), the best section's score in the retriever's own ranking (`top`; in blend
mode dense, BM25 and the document's match, each scaled per query, so it says how far they agree
on one section) and its
lead over the second section (`gap`: a question a policy covers has one clear section; an
uncovered one gets several equally weak ones), and the share of the question's content words
that no indexed passage uses at all (`unknown`: "lunch", "succulents"). In blend mode (the
default) a class-balanced logistic model over the five decides (`LEARNED`); with another
ranking, whose scores mean something else, two thresholds on the first two (`RULE`). Both
were chosen on the set (the lowest worse-of-the-two error rate); `--choose` prints the
leave-one-out rates too.

Questions written in another language get a note: the policies are English documents.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from agent import stance
from agent.citations import Retrieval, retrieve
from knowledge.retrieval import BLEND_MATCH_MAX

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


class Signals(NamedTuple):
    """What one retrieval says about whether a policy covers the question."""

    confidence: float  # the best dense similarity (cosine), whatever the ranking mode
    overlap: float  # share of the question's content words in the best sections
    top: float = 0.0  # the best section's score in the retriever's own ranking
    gap: float = 0.0  # its lead over the second section's score
    unknown: float = 0.0  # share of the question's content words no indexed passage uses


class Decides(Protocol):
    def answers(self, signals: Signals) -> bool: ...


@dataclass(frozen=True)
class Rule:
    """Answer when the best dense match or the lexical agreement reaches its threshold."""

    min_confidence: float
    min_overlap: float

    def answers(self, signals: Signals) -> bool:
        return signals.confidence >= self.min_confidence or (
            signals.overlap >= self.min_overlap and signals.confidence >= self.min_confidence - 0.15
        )


@dataclass(frozen=True)
class Learned:
    """P(a policy covers the question) from the five signals, for one ranking mode: a logistic
    model over standardised signals; answer when it reaches `threshold`."""

    mode: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def probability(self, signals: Signals) -> float:
        z = self.bias + sum(
            w * (x - m) / sd
            for w, x, m, sd in zip(self.weights, signals, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def answers(self, signals: Signals) -> bool:
        return self.probability(signals) >= self.threshold


# Chosen with `warden eval-abstention --choose` on the set above (see the README figures).
RULE = Rule(min_confidence=0.485, min_overlap=0.4)
LEARNED = Learned(
    mode="blend",
    mean=(0.4348, 0.5688, 1.1901, 0.2614, 0.2594),
    scale=(0.1554, 0.2467, 0.1282, 0.2159, 0.2299),
    weights=(1.8774, 0.532, 1.0078, 0.6147, -0.7904),
    bias=1.3303,
    threshold=0.51,
)


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


def unknown_share(deps: Deps, question: str) -> float:
    """Share of the question's content words that no indexed passage uses (0 when the
    retriever cannot tell)."""
    words = content_words(question)
    check = getattr(deps.retriever, "unknown_words", None)
    if not words or check is None:
        return 0.0
    return len(check(words)) / len(words)


def signals(question: str, found: Retrieval, *, unknown: float = 0.0) -> Signals:
    """The signals of one retrieval (`unknown`: `unknown_share` of the question). In blend
    mode the section scores are read up to `BLEND_MATCH_MAX`: what a named document adds above
    it says the question names a document (a platform, "Lumen"), not that a policy covers it."""
    cap = BLEND_MATCH_MAX if found.mode == "blend" else math.inf
    scores = [min(s.score, cap) for s in found.sections[:2]] + [0.0, 0.0]
    return Signals(
        found.confidence, overlap(question, found), scores[0], scores[0] - scores[1], unknown
    )


def rule_for(mode: str | None) -> Decides:
    """The learned model where its ranking mode is in use; else the two thresholds."""
    return LEARNED if mode == LEARNED.mode else RULE


def abstains(
    question: str, found: Retrieval, rule: Decides | None = None, *, unknown: float = 0.0
) -> bool:
    """True when no retrieved policy section should be presented as covering the question
    (`unknown`: `unknown_share` of the question)."""
    if not found.sections:
        return True
    return not (rule or rule_for(found.mode)).answers(signals(question, found, unknown=unknown))


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


def rates(rows: list[Labelled], features: list[Signals], rule: Decides) -> Rates:
    pairs = list(zip(rows, features, strict=True))
    fa = sum(1 for r, f in pairs if not r.answerable and rule.answers(f))
    fb = sum(1 for r, f in pairs if r.answerable and not rule.answers(f))
    n_un = sum(1 for r in rows if not r.answerable)
    n_an = len(rows) - n_un
    return Rates(fa / max(1, n_un), fb / max(1, n_an), n_un, n_an)


def measure(deps: Deps, rows: list[Labelled]) -> tuple[list[Signals], str | None]:
    """The signals of every question, and the ranking mode they were read in."""
    out, mode = [], None
    for r in rows:
        found = retrieve(deps, r.question)
        mode = found.mode
        out.append(signals(r.question, found, unknown=unknown_share(deps, r.question)))
    return out, mode


def choose(rows: list[Labelled], features: list[Signals]) -> tuple[Rule, Rates]:
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


def _threshold(probabilities: np.ndarray, answerable: np.ndarray) -> float:
    """The cut with the lowest worse-of-the-two error rate (ties: fewer false answers)."""
    best: tuple[tuple[float, float], float] | None = None
    n_un = max(1, int((~answerable).sum()))
    n_an = max(1, int(answerable.sum()))
    for cut in np.arange(0.05, 0.96, 0.01):
        answered = probabilities >= cut
        fa = float((answered & ~answerable).sum()) / n_un
        fb = float((~answered & answerable).sum()) / n_an
        key = (max(fa, fb), fa)
        if best is None or key < best[0]:
            best = (key, round(float(cut), 2))
    assert best is not None
    return best[1]


def fit(rows: list[Labelled], features: list[Signals], mode: str) -> Learned:
    """The stance check's class-balanced logistic regression (`agent.stance.fit`) over the
    standardised signals, then the threshold."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray([r.answerable for r in rows], dtype=bool)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale < 1e-4, 1.0, scale)  # a signal that never varies carries no weight
    z = (x - mean) / scale
    w, b = stance.fit(z, y.astype(np.float64), l2=1e-2, steps=3000, rate=0.5)
    p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
    return Learned(
        mode=mode,
        mean=tuple(round(float(v), 4) for v in mean),
        scale=tuple(round(float(v), 4) for v in scale),
        weights=tuple(round(float(v), 4) for v in w),
        bias=round(b, 4),
        threshold=_threshold(p, y),
    )


def cross_validated(
    rows: list[Labelled], features: list[Signals], mode: str | None = None
) -> Rates:
    """Leave-one-out rates: each question judged by a rule chosen without it (the thresholds
    with `mode=None`, the learned model for that mode otherwise).

    What the in-sample rates of the chosen rule hide: how well choosing generalises to
    questions it was not fitted on.
    """
    false_answer = false_abstain = 0
    for i, (row, feature) in enumerate(zip(rows, features, strict=True)):
        rest_rows, rest = rows[:i] + rows[i + 1 :], features[:i] + features[i + 1 :]
        rule: Decides = fit(rest_rows, rest, mode) if mode else choose(rest_rows, rest)[0]
        answered = rule.answers(feature)
        false_answer += int(not row.answerable and answered)
        false_abstain += int(row.answerable and not answered)
    n_un = sum(not r.answerable for r in rows)
    n_an = len(rows) - n_un
    return Rates(false_answer / max(1, n_un), false_abstain / max(1, n_an), n_un, n_an)
