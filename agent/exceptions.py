"""A policy's exceptions in every decision: which sections must be in context, and whether the
content does what an exception allows rather than what the violating section describes.

For every candidate policy of a case, its exception and borderline sections (catalogue `kind`)
are added to the draft's context whatever retrieval ranked, so the model sees them and the rules
can weigh them. The rules weigh them with evidence from the policy itself: each section's text is
split into units (sentences and example lines), joined by the examples Warden's team wrote for
that section (`agent/stance_examples.yaml`).

The decision is the policy's stance classifier (`agent.stance`), trained on those units: the
violation side wins only when it is clearly more likely (`STANCE_THRESHOLD`, chosen on the dev
half of HateCheck, see README). Which exception is cited is the one whose units are closest to the
content (cosine). Without an embedder the best word overlap decides. One lexical cue comes from
the policies themselves ("we look at the poster's framing, not at the words quoted"): quoted
spans and words reported from someone else are left out of the violation side.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.citations import retrieve
from agent.deps import Deps
from agent.stance import STANCES, framing, written_examples
from agent.state import Retrieved

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

CONTEXT_KINDS = ("exception", "borderline")
# The violation side must be this likely before the rules draft `violating` (else: exception).
STANCE_THRESHOLD = 0.62
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")
_MIN_UNIT = 12
_CACHE_LIMIT = 2000


@dataclass(frozen=True)
class ExceptionMatch:
    """The best exception of a policy for the content, against the violating section.

    `violation_probability` is the policy's stance classifier on the framing (None without an
    embedder, when the similarity scores decide)."""

    exception_id: str
    exception_score: float
    violation_id: str
    violation_score: float
    quoted: bool
    violation_probability: float | None = None

    @property
    def applies(self) -> bool:
        """The exception explains the content at least as well as the violating section."""
        if self.violation_probability is not None:
            return self.violation_probability < STANCE_THRESHOLD
        return self.similar

    @property
    def similar(self) -> bool:
        """The exception's units are at least as close to the content as the violation's."""
        return self.exception_score >= self.violation_score


def units(text: str) -> list[str]:
    """Evidence units of a section: its sentences and its example lines."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*• ").strip()
        if not line or line.lower().startswith("examples"):
            continue
        found.extend(s.strip() for s in _SENTENCE.split(line) if len(s.strip()) >= _MIN_UNIT)
    return found or ([text.strip()] if text.strip() else [])


def candidate_policies(
    catalogue: Catalogue, sections: Iterable[Retrieved], extra: Iterable[str] = ()
) -> list[str]:
    """Policies a draft may decide on: those of the signal rules that fired and of the
    actionable sections retrieved, in that order, without repeats."""
    out: list[str] = list(dict.fromkeys(extra))
    for s in sections:
        if (
            s.policy_id
            and s.policy_id not in out
            and _kind(catalogue, s.section_id)
            in (
                "violation",
                "borderline",
            )
        ):
            out.append(s.policy_id)
    return out


def _kind(catalogue: Catalogue, section_id: str) -> str | None:
    try:
        return catalogue.section(section_id).kind.value
    except Exception:  # a retrieved id the catalogue does not know (another document)
        return None


def context_sections(deps: Deps, policy_ids: Iterable[str]) -> list[Retrieved]:
    """Every exception and borderline section of these policies, as retrieved sections.

    Read from the retriever's own index (the approved, current chunks of each section, joined),
    so what is cited is what was indexed; a retriever without that view is searched by title.
    """
    wanted: dict[str, tuple[str, str]] = {}
    for pid in policy_ids:
        try:
            entries = deps.catalogue.sections_of(pid)
        except Exception:  # an unknown policy id: nothing to add
            continue
        for e in entries:
            if e.kind.value in CONTEXT_KINDS:
                wanted[e.id] = (pid, e.title)
    if not wanted:
        return []
    found = _from_index(deps.retriever, wanted)
    for sid, (pid, title) in wanted.items():
        if sid in found:
            continue
        for s in retrieve(deps, title, k=4, policy=pid).sections:
            if s.section_id == sid:
                found[sid] = s
                break
    return [found[sid] for sid in wanted if sid in found]


def _from_index(retriever: Any, wanted: dict[str, tuple[str, str]]) -> dict[str, Retrieved]:
    lexical = getattr(retriever, "lexical", None)
    if not callable(lexical):
        return {}
    index = lexical()
    parts: dict[str, list[str]] = {}
    meta_of: dict[str, dict[str, Any]] = {}
    for meta, text in zip(index.metadatas, index.documents, strict=True):
        sid = str(meta.get("section_id", ""))
        if sid not in wanted or not meta.get("is_current") or not meta.get("approved"):
            continue
        if str(meta.get("policy_id") or "") != wanted[sid][0]:
            continue
        parts.setdefault(sid, []).append(str(text))
        meta_of.setdefault(sid, dict(meta))
    return {
        sid: Retrieved(
            section_id=sid,
            title=str(meta_of[sid].get("title", "")),
            policy_id=wanted[sid][0],
            policy_version=str(meta_of[sid].get("policy_version") or "") or None,
            source=str(meta_of[sid].get("source", "")),
            text="\n".join(dict.fromkeys(texts)),
            score=0.0,
        )
        for sid, texts in parts.items()
    }


class Evidence:
    """Unit vectors of section texts, embedded once per distinct text (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vectors: dict[str, list[list[float]]] = {}

    def vectors(self, embedder: Any, text: str) -> list[list[float]]:
        key = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            cached = self._vectors.get(key)
        if cached is not None:
            return cached
        vectors: list[list[float]] = embedder.embed_documents(units(text))
        with self._lock:
            if len(self._vectors) >= _CACHE_LIMIT:
                self._vectors.clear()
            self._vectors[key] = vectors
        return vectors


EVIDENCE = Evidence()


def _best_cosine(vector: list[float], rows: list[list[float]]) -> float:
    if not rows:
        return 0.0
    matrix = np.asarray(rows, dtype=np.float32)
    v = np.asarray(vector, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * (float(np.linalg.norm(v)) or 1.0)
    return float(np.max(matrix @ v / np.where(norms == 0, 1.0, norms)))


def _lexical_match(content: str, text: str) -> float:
    """Without an embedder: the share of the content's words found in the section text."""
    words = set(re.findall(r"[a-z]{3,}", content.lower()))
    have = set(re.findall(r"[a-z]{3,}", text.lower()))
    return len(words & have) / len(words) if words else 0.0


def section_match(deps: Deps, content: str, vector: list[float] | None, text: str) -> float:
    """How well `content` matches a section: best similarity to one of its units."""
    embedder = getattr(deps.retriever, "embedder", None)
    if embedder is None:
        return _lexical_match(content, text)
    if vector is None:
        vector = embedder.embed_query(content)
    return _best_cosine(vector, EVIDENCE.vectors(embedder, text))


_REF = re.compile(r"\b[A-Z]{2,4}-\d+(?:\.\d+)*\b")


def _evidence(deps: Deps, policy_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """Violation and exception evidence texts of one policy, by section id.

    A violation section's sentence that points to an exception ("... is VE-3.1", "falls under
    HA-3.4") describes that exception, so it counts for the exception, not the violation.
    """
    entries = {e.id: e for e in deps.catalogue.sections_of(policy_id)}
    wanted = {
        sid: (policy_id, e.title)
        for sid, e in entries.items()
        if e.kind.value in ("violation", "exception")
    }
    texts = {sid: r.text for sid, r in _from_index(deps.retriever, wanted).items()}
    violations: dict[str, list[str]] = {}
    exceptions: dict[str, list[str]] = {}
    for sid, written in written_examples(policy_id).items():
        if sid in wanted:
            side = exceptions if entries[sid].kind.value == "exception" else violations
            side.setdefault(sid, []).extend(written)
    for sid, text in texts.items():
        if entries[sid].kind.value == "exception":
            exceptions.setdefault(sid, []).extend(units(text))
            continue
        for unit in units(text):
            refs = [r for r in _REF.findall(unit) if r in entries and r != sid]
            pointed = [r for r in refs if entries[r].kind.value == "exception"]
            if pointed:
                for r in pointed:
                    exceptions.setdefault(r, []).append(unit)
            else:
                violations.setdefault(sid, []).append(unit)
    return (
        {sid: "\n".join(u) for sid, u in violations.items()},
        {sid: "\n".join(u) for sid, u in exceptions.items()},
    )


def best_exception(
    deps: Deps,
    content: str,
    violation: Retrieved,
    sections: list[Retrieved],
    *,
    vector: list[float] | None = None,
) -> ExceptionMatch | None:
    """The exception of the violating section's policy that matches the content best, against
    the best-matching violation section of that policy."""
    if not violation.policy_id or not content.strip():
        return None
    in_context = {
        s.section_id
        for s in sections
        if s.policy_id == violation.policy_id and _kind(deps.catalogue, s.section_id) == "exception"
    }
    violations, exceptions_all = _evidence(deps, violation.policy_id)
    exceptions = {sid: t for sid, t in exceptions_all.items() if sid in in_context}
    violations.setdefault(violation.section_id, violation.text)
    if not exceptions:
        return None
    framed = framing(content)
    quoted = framed != content
    embedder = getattr(deps.retriever, "embedder", None)
    probability = None
    if embedder is not None:
        vector = vector if vector is not None else embedder.embed_query(content)
        framed_vector = embedder.embed_query(framed) if quoted else vector
        stance = STANCES.get(
            embedder,
            [u for t in violations.values() for u in t.splitlines()],
            [u for sid, t in exceptions_all.items() for u in t.splitlines()],
        )
        if stance is not None:
            probability = round(stance.violation(framed_vector), 4)
    else:
        framed_vector = None
    violation_score = max(
        section_match(deps, framed, framed_vector, text) for text in violations.values()
    )
    scored = [(section_match(deps, content, vector, t), sid) for sid, t in exceptions.items()]
    score, sid = max(scored)
    return ExceptionMatch(
        exception_id=sid,
        exception_score=round(score, 4),
        violation_id=violation.section_id,
        violation_score=round(violation_score, 4),
        quoted=quoted,
        violation_probability=probability,
    )
