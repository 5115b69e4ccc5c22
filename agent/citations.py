"""Retrieval for one turn, and the rule that only sections retrieved in that turn are cited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent.deps import Deps
from agent.interface import Citation
from agent.state import Retrieved

SECTION_REF = re.compile(r"\[\s*([A-Z]{2,4}-\d+(?:\.\d+)*)\s*\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be been but by can do does for from has have how i if in into is it its "  # noqa: SIM905
    "of on or our so such that the their them there these they this to was we what when where "
    "which who why will with would you your about any not no".split()
)
EXCERPT_CHARS = 420


@dataclass(frozen=True)
class Retrieval:
    """The sections retrieved for one query and how well the best one matches (0-1)."""

    sections: list[Retrieved]
    confidence: float
    # The retriever's ranking mode ("blend", "hybrid", "dense"; None when it does not say): the
    # sections' scores mean something different in each, and abstention reads them.
    mode: str | None = None


def embed(deps: Deps, query: str) -> list[float] | None:
    """The query vector, when the retriever exposes its embedder (so one vector serves many
    searches); None means "let `search` embed it"."""
    embedder = getattr(deps.retriever, "embedder", None)
    if embedder is None or getattr(deps.retriever, "search_vector", None) is None:
        return None
    # Warden's retriever embeds the question without the documents' names (`Retriever.embed`).
    own = getattr(deps.retriever, "embed", None)
    vector: list[float] = own(query) if callable(own) else embedder.embed_query(query)
    return vector


def _search(
    deps: Deps, query: str, k: int, policy: str | None, vector: list[float] | None
) -> tuple[list[Any], float]:
    """Hits in the retriever's own ranking, and the best dense similarity as confidence.

    A hybrid retriever ranks by fused rank (RRF), which says nothing about absolute relevance;
    the cosine similarity of the best dense match does, so it is read from a dense search with
    the same query vector (no second embedding).
    """
    retriever: Any = deps.retriever
    vector = vector if vector is not None else embed(deps, query)
    if vector is None:
        hits = list(retriever.search(query, k, policy=policy, approved_only=True))
        return hits, max((float(h.score) for h in hits), default=0.0)
    hits = retriever.search_vector(query, vector, k, policy=policy, approved_only=True)
    dense = retriever.search_vector(
        query, vector, 1, policy=policy, approved_only=True, mode="dense"
    )
    return list(hits), float(dense[0].score) if dense else 0.0


def retrieve(
    deps: Deps,
    query: str,
    *,
    k: int = 6,
    policy: str | None = None,
    vector: list[float] | None = None,
) -> Retrieval:
    """Approved sections for `query`, one per section id (best chunk), best first."""
    hits, confidence = _search(deps, query, k, policy, vector)
    best: dict[str, Retrieved] = {}
    for hit in hits:
        if not hit.approved:
            continue  # belt and braces: an unapproved document is never cited as policy
        found = Retrieved(
            section_id=hit.section_id,
            title=hit.title,
            policy_id=hit.policy_id,
            policy_version=hit.policy_version,
            source=hit.source,
            text=hit.text,
            score=float(hit.score),
        )
        current = best.get(found.section_id)
        if current is None or found.score > current.score:
            best[found.section_id] = found
    ranked = sorted(best.values(), key=lambda r: r.score, reverse=True)
    mode = getattr(deps.retriever, "mode", None)
    return Retrieval(
        ranked, confidence if ranked else 0.0, mode=mode if isinstance(mode, str) else None
    )


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def relevant_excerpt(text: str, query: str, *, limit: int = EXCERPT_CHARS) -> str:
    """The sentences of `text` that share the most words with `query`, in document order."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) > 20]
    if not sentences:
        return text.strip()[:limit]
    wanted = _words(query)
    ranked = sorted(
        range(len(sentences)),
        key=lambda i: (len(_words(sentences[i]) & wanted), -i),
        reverse=True,
    )
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if used + len(sentences[i]) > limit and chosen:
            break
        chosen.append(i)
        used += len(sentences[i]) + 1
        if len(chosen) == 3:
            break
    parts = [sentences[i] for i in sorted(chosen)]
    excerpt = " ... ".join(parts)
    return excerpt if len(excerpt) <= limit else excerpt[: limit - 3].rstrip() + "..."


def to_citation(section: Retrieved, query: str) -> Citation:
    return Citation(
        section_id=section.section_id,
        title=section.title,
        policy_id=section.policy_id or "",
        policy_version=section.policy_version or "",
        source=section.source,
        excerpt=relevant_excerpt(section.text, query),
    )


def cited_only(
    ids: Iterable[str], retrieved: list[Retrieved], query: str
) -> tuple[list[Citation], list[str]]:
    """Citations for the ids retrieved this turn; the other ids are returned as removed."""
    by_id = {r.section_id: r for r in retrieved}
    citations: list[Citation] = []
    removed: list[str] = []
    for sid in dict.fromkeys(ids):
        if sid in by_id:
            citations.append(to_citation(by_id[sid], query))
        else:
            removed.append(sid)
    return citations, removed


def strip_unretrieved_refs(text: str, retrieved_ids: set[str]) -> tuple[str, list[str]]:
    """Drop inline [ID] references to sections not retrieved this turn; return the dropped ids."""
    removed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        sid = match.group(1)
        if sid in retrieved_ids:
            return match.group(0)
        removed.append(sid)
        return "[citation removed]"

    return SECTION_REF.sub(replace, text), removed


def inline_refs(text: str) -> list[str]:
    return [m.group(1) for m in SECTION_REF.finditer(text)]


def section_kinds(catalogue: Any, sections: list[Retrieved]) -> dict[str, str]:
    """The catalogue kind of each section (scope, violation, exception, ...); "other" if unknown."""
    kinds: dict[str, str] = {}
    for s in sections:
        try:
            kinds[s.section_id] = catalogue.section(s.section_id).kind.value
        except Exception:  # a retrieved id the catalogue does not know (e.g. an older version)
            kinds[s.section_id] = "other"
    return kinds
