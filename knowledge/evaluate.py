"""Retrieval evaluation: recall@1, recall@5 and MRR of dense and hybrid search, labelled sets.

Two labelled sets:

* `knowledge/questions/warden_questions.jsonl` over Warden's own policies: a hit is right when its
  `section_id` is one of `expected`. Questions that name a `version` are asked of that version.
* `knowledge/questions/platform_questions.jsonl` over other platforms' published guidelines: a hit
  is right when it comes from `source` and contains `phrase` verbatim.
* `knowledge/questions/hard_questions.jsonl` (development) and `hard_questions_heldback.jsonl`
  (held back, looked at only to check the tuning did not fit the development part): harder
  questions over the same guidelines, phrased as a specialist would type them (slang, paraphrase,
  platform-specific names, one item of a long list). A hit is right when it comes from `source`
  and contains every one of `terms` (a few words, case-insensitive), so the labels survive any
  re-chunking.
* `knowledge/questions/hard_questions_final.jsonl`: written after the held-back part had been
  seen once and before any further tuning, then evaluated only at the end (the check that the
  later tuning did not fit the development questions).
* `knowledge/questions/hard_questions_blind.jsonl`: 56 questions (8 per document) written blind,
  by a writer who saw neither the retrieval code nor the other question sets, before the
  2026-12-04 tuning (name-free dense query, vocabulary expansion, weights) and first scored
  after it; seen twice since (after the routing fix), with later changes chosen on hard-dev.
* `knowledge/questions/hard_questions_blind2.jsonl`: 56 more, written blind the same way once the
  first blind set had been seen, and scored once, at the end of that stop.

Each corpus is ingested into its own evaluation collection in the data folder (idempotent, so a
second run only embeds what changed). Every question is embedded once and searched both ways.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from warden.errors import InputError
from warden.settings import shared_dir

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from knowledge.retrieval import Hit, Mode, Retriever
    from warden.settings import Settings

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
WARDEN_QUESTIONS = QUESTIONS_DIR / "warden_questions.jsonl"
PLATFORM_QUESTIONS = QUESTIONS_DIR / "platform_questions.jsonl"
HARD_QUESTIONS = QUESTIONS_DIR / "hard_questions.jsonl"
HELDBACK_QUESTIONS = QUESTIONS_DIR / "hard_questions_heldback.jsonl"
FINAL_QUESTIONS = QUESTIONS_DIR / "hard_questions_final.jsonl"
BLIND_QUESTIONS = QUESTIONS_DIR / "hard_questions_blind.jsonl"
BLIND2_QUESTIONS = QUESTIONS_DIR / "hard_questions_blind2.jsonl"
PLATFORM_CORPUS = shared_dir() / "corpora" / "platform-guidelines"
MODES: tuple[Mode, ...] = ("dense", "hybrid", "blend")
DEPTH = 10  # MRR is computed over the first 10 hits; recall at 1 and 5


class Question(BaseModel):
    id: str
    question: str
    expected: list[str] = Field(default_factory=list)
    policy: str | None = None
    version: str | None = None
    phrase: str | None = None
    source: str | None = None
    terms: list[str] = Field(default_factory=list)


class ModeScore(BaseModel):
    """Quality and speed of one retrieval mode on one question set."""

    recall_at_1: float
    recall_at_5: float
    mrr: float
    mean_chunk_chars: float = Field(description="mean length of the top-5 returned chunks")
    median_query_ms: float = Field(description="search time after embedding (index work only)")
    misses: list[str] = Field(description="question ids with no right hit in the top 5")


class SetReport(BaseModel):
    name: str
    collection: str
    questions: int
    chunks: int
    ingest_seconds: float
    median_embed_ms: float = Field(description="time to embed one query")
    modes: dict[str, ModeScore]


class EvalReport(BaseModel):
    sets: list[SetReport]
    default_mode: str


def load_questions(path: Path) -> list[Question]:
    """Read a JSON-lines question file; errors name the file and line."""
    if not path.is_file():
        raise InputError(f"{path}: question file not found.")
    questions: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(Question.model_validate_json(line))
        except ValueError as exc:
            raise InputError(f"{path}:{number}: not a valid question: {exc}") from exc
    return questions


def warden_judge(question: Question, hit: Hit) -> bool:
    return hit.section_id in question.expected


def platform_judge(question: Question, hit: Hit) -> bool:
    if hit.source != question.source:
        return False
    if question.terms:
        text = hit.text.lower()
        return all(term.lower() in text for term in question.terms)
    return question.phrase is not None and question.phrase in hit.text


def score_set(
    retriever: Retriever,
    questions: list[Question],
    judge: Callable[[Question, Hit], bool],
    *,
    approved_only: bool,
) -> tuple[dict[str, ModeScore], float]:
    """Score every mode on one question set; returns the scores and the median embed time (ms)."""
    embed_ms: list[float] = []
    vectors: list[list[float]] = []
    for question in questions:
        started = time.perf_counter()
        vectors.append(retriever.embed(question.question))
        embed_ms.append((time.perf_counter() - started) * 1000)
    scores: dict[str, ModeScore] = {}
    runs: list[tuple[str, Mode, bool]] = [(mode, mode, False) for mode in MODES]
    if retriever.reranker is not None:  # the default mode again, re-ordered by the chat model
        runs.append((f"{retriever.mode}+rerank", retriever.mode, True))
    for label, mode, rerank in runs:
        retriever.search_vector(
            "warm-up", vectors[0], 1, approved_only=approved_only, mode=mode, rerank=False
        )
        ranks: list[int | None] = []
        lengths: list[int] = []
        query_ms: list[float] = []
        for question, vector in zip(questions, vectors, strict=True):
            policy = question.policy if question.version else None
            started = time.perf_counter()
            hits = retriever.search_vector(
                question.question,
                vector,
                DEPTH,
                policy=policy,
                version=question.version,
                approved_only=approved_only,
                mode=mode,
                rerank=rerank,
            )
            query_ms.append((time.perf_counter() - started) * 1000)
            lengths.extend(len(hit.text) for hit in hits[:5])
            rank = next((i for i, hit in enumerate(hits, start=1) if judge(question, hit)), None)
            ranks.append(rank)
        total = len(questions)
        scores[label] = ModeScore(
            recall_at_1=round(sum(1 for r in ranks if r == 1) / total, 3),
            recall_at_5=round(sum(1 for r in ranks if r is not None and r <= 5) / total, 3),
            mrr=round(sum(1 / r for r in ranks if r is not None) / total, 3),
            mean_chunk_chars=round(statistics.fmean(lengths), 1) if lengths else 0.0,
            median_query_ms=round(statistics.median(query_ms), 2),
            misses=[q.id for q, r in zip(questions, ranks, strict=True) if r is None or r > 5],
        )
    return scores, round(statistics.median(embed_ms), 2)


def collection_for(base: str, embedder: Embedder) -> str:
    """The evaluation collection for this embedder: an embeddings endpoint gets its own index."""
    import re

    from knowledge.embeddings import LocalEmbedder
    from knowledge.index import embedder_name

    if isinstance(embedder, LocalEmbedder):
        return base
    slug = re.sub(r"[^A-Za-z0-9]+", "-", embedder_name(embedder)).strip("-").lower()
    return f"{base}-{slug[:40] or 'endpoint'}"


def run(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    client: Any = None,
    platform_dir: Path | None = PLATFORM_CORPUS,
    progress: bool = False,
    heldback: bool = True,
) -> EvalReport:
    """Ingest both corpora into evaluation collections and score every retrieval mode.

    `heldback=False` leaves out the held-back and final questions (while tuning, so they stay
    unseen).
    """
    from knowledge.embeddings import build_embedder
    from knowledge.index import build_chroma_client, ingest
    from knowledge.retrieval import DEFAULT_MODE, build_retriever

    embedder = embedder or build_embedder(settings)
    client = client if client is not None else build_chroma_client(settings)
    plans: list[tuple[str, str, list[Path], Path, Callable[[Question, Hit], bool], bool]] = [
        (
            "warden",
            collection_for("eval-warden", embedder),
            list(settings.policies_dirs),
            WARDEN_QUESTIONS,
            warden_judge,
            True,
        )
    ]
    if platform_dir is not None and platform_dir.is_dir():
        platform_sets = [("platform", PLATFORM_QUESTIONS), ("hard-dev", HARD_QUESTIONS)]
        if heldback:
            platform_sets += [
                ("hard-held", HELDBACK_QUESTIONS),
                ("hard-final", FINAL_QUESTIONS),
                ("hard-blind", BLIND_QUESTIONS),
                ("hard-blind2", BLIND2_QUESTIONS),
            ]
        platform = collection_for("eval-platform", embedder)
        plans.extend(
            (name, platform, [platform_dir], questions, platform_judge, False)
            for name, questions in platform_sets
        )
    reports: list[SetReport] = []
    for name, collection, paths, questions_file, judge, approved_only in plans:
        questions = load_questions(questions_file)
        report = ingest(
            paths,
            settings=settings,
            client=client,
            embedder=embedder,
            collection=collection,
            progress=progress,
        )
        retriever = build_retriever(
            settings, embedder=embedder, client=client, collection=collection
        )
        modes, embed_ms = score_set(retriever, questions, judge, approved_only=approved_only)
        reports.append(
            SetReport(
                name=name,
                collection=collection,
                questions=len(questions),
                chunks=report.chunks,
                ingest_seconds=report.seconds,
                median_embed_ms=embed_ms,
                modes=modes,
            )
        )
    return EvalReport(sets=reports, default_mode=DEFAULT_MODE)


def render(report: EvalReport) -> str:
    """A plain-text table for the terminal."""
    lines = [f"default mode: {report.default_mode}"]
    header = f"{'set':<13}{'mode':<14}{'R@1':>7}{'R@5':>7}{'MRR':>7}{'chunk':>8}{'query ms':>10}"
    for item in report.sets:
        lines.append("")
        lines.append(
            f"{item.name}: {item.questions} questions, {item.chunks} chunks, "
            f"ingest {item.ingest_seconds}s, embed one query {item.median_embed_ms} ms (median)"
        )
        lines.append(header)
        for mode, score in item.modes.items():
            lines.append(
                f"{item.name:<13}{mode:<14}{score.recall_at_1:>7.3f}{score.recall_at_5:>7.3f}"
                f"{score.mrr:>7.3f}{score.mean_chunk_chars:>8.0f}{score.median_query_ms:>10.2f}"
            )
            if score.misses:
                lines.append(f"{'':<27}misses: {', '.join(score.misses)}")
    return "\n".join(lines)


def to_json(report: EvalReport) -> str:
    return json.dumps(report.model_dump(), indent=2)
