"""1. Ingest throughput against the embedding model's raw throughput on the same chunks.

The raw pass embeds exactly the texts Warden's ingest embeds (`Chunk.embed_text` of every chunk
of the corpus) with sentence-transformers at Warden's batch size; the ingest pass runs
`knowledge.index.ingest` into a fresh collection with Warden's own (already loaded) embedder,
timed end to end: parse, chunk, embed, Chroma writes, the BM25 side index. A timing wrapper
around the embedder splits the ingest's time into embedding and everything else.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.context import Context, missing
from bench.results import Figure, Section

PLATFORM_COLLECTION = "eval-platform"  # knowledge.evaluate's collection for this corpus
SUBSET_CHUNKS = 200  # the paired raw/ingest passes; two passes of the whole corpus cost minutes

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder


class TimedEmbedder:
    """Warden's embedder with a stopwatch around each call (adds microseconds, not work)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    @property
    def name(self) -> str:
        from knowledge.index import embedder_name

        return embedder_name(self.inner)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += len(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def subset(corpus: Path, target_chunks: int) -> list[Path]:
    """Smallest files first, until about `target_chunks` chunks (at least one file)."""
    from knowledge.parsing import chunk_document, parse_file

    files = sorted(
        (p for p in corpus.iterdir() if p.suffix in {".md", ".txt", ".html"}),
        key=lambda p: p.stat().st_size,
    )
    chosen: list[Path] = []
    chunks = 0
    for file in files:
        chosen.append(file)
        chunks += len(chunk_document(parse_file(file, file.name)))
        if chunks >= target_chunks:
            break
    return chosen


def corpus_texts(files: list[Path]) -> list[str]:
    from knowledge.parsing import chunk_document, iter_files, parse_file

    return [
        chunk.embed_text
        for f, src in iter_files(files)
        for chunk in chunk_document(parse_file(f, src))
    ]


def run(ctx: Context) -> Section:
    section = Section(key="ingest", title="1. Ingest throughput against the embedding model")
    why = missing("knowledge.index", "knowledge.parsing", "knowledge.embeddings")
    if why:
        return section.not_measured(why)
    if not ctx.corpus.is_dir():
        return section.not_measured(f"corpus folder {ctx.corpus} is absent")
    from knowledge.embeddings import BATCH_SIZE
    from knowledge.index import VOCABULARY_MAX, chunk_vocabulary, ingest, prepare
    from knowledge.parsing import chunk_units

    # The machine's embedding rate right now decides how much corpus fits the run's budget.
    all_texts = corpus_texts([ctx.corpus])
    probe = all_texts[:32]
    started = time.perf_counter()
    ctx.raw.encode(probe)
    rate = len(probe) / (time.perf_counter() - started)
    section.data["probe_chunks_per_s"] = round(rate, 1)
    whole_s = len(all_texts) / rate + 30  # + process start and model load
    if ctx.quick:
        pair_chunks = 1
    else:  # four passes (raw, ingest, twice) in at most a tenth of the time left
        pair_chunks = int(max(40, min(SUBSET_CHUNKS, rate * ctx.time_left() * 0.1 / 4)))
    files = subset(ctx.corpus, pair_chunks)
    if ctx.subprocesses:
        # First, before this process opens the index: `warden ingest` of the whole corpus in its
        # own process (peak RSS for item 8), into the collection the quality section evaluates,
        # so the corpus is embedded once per run. Only the subset when the whole would take
        # more than a third of the time left (then the quality section says so).
        from bench.startup import ingest_cli

        whole = [ctx.corpus]
        if ctx.quick or whole_s > ctx.time_left() / 3:
            whole = files
            ctx.cache["platform_skipped"] = (
                f"the whole corpus ({len(all_texts)} chunks at {rate:.1f} chunks/s measured at "
                f"the start) would not fit the run's budget"
                if not ctx.quick
                else "quick mode"
            )
        ctx.cache["ingest_cli"] = cli = ingest_cli(ctx, whole, PLATFORM_COLLECTION)
        report = cli["report"]
        section.data["cli"] = {k: v for k, v in cli.items() if k != "report"} | {
            "report": {k: v for k, v in report.items() if k != "warnings"}
        }
        section.notes.append(
            f"`warden ingest {cli['label']} --json` in its "
            f"own process: {report['chunks']} chunks, {report['added']} embedded, "
            f"{report['seconds']} s inside ingest (including the model load), "
            f"{cli['seconds']:.0f} s for the whole command."
        )
    repeats = 2
    settings = ctx.index_settings
    started = time.perf_counter()
    prepared, _, _ = prepare(files, settings)
    prepare_s = time.perf_counter() - started
    texts = [chunk.embed_text for item in prepared for chunk in item.chunks]
    # Ingest also embeds each chunk's units (list items, sentences; small-to-big): the raw pass
    # encodes exactly the same texts, so the two passes do the same embedding work.
    units = [u for item in prepared for chunk in item.chunks for u in chunk_units(chunk)]
    # ... and the corpus's words, once each, for query expansion.
    words = chunk_vocabulary(c for item in prepared for c in item.chunks)[:VOCABULARY_MAX]
    embedded = texts + units + words
    client = ctx.client
    embedder = ctx.embedder
    raw_times: list[float] = []
    ingest_times: list[float] = []
    embed_share: list[float] = []
    for r in range(repeats):
        started = time.perf_counter()
        ctx.raw.encode(embedded, batch_size=BATCH_SIZE)
        raw_times.append(time.perf_counter() - started)
        timed = TimedEmbedder(embedder)
        started = time.perf_counter()
        name = f"bench-ingest-{r}"
        report = ingest(files, settings=settings, client=client, embedder=timed, collection=name)
        ingest_times.append(time.perf_counter() - started)
        embed_share.append(timed.seconds / ingest_times[-1])
        if report.added != len(texts) or timed.texts != len(embedded):
            raise RuntimeError(
                f"ingest embedded {timed.texts} texts and added {report.added} chunks, but the "
                f"corpus has {len(texts)} chunks, {len(units)} units and {len(words)} words: "
                "the raw and ingest "
                "passes would not be comparable"
            )
    n = len(embedded)
    raw_rate = n / min(raw_times)
    ingest_rate = n / min(ingest_times)
    ratio = ingest_rate / raw_rate
    chars = sum(len(t) for t in texts) / max(len(texts), 1)
    section.data |= {
        "files": [f.name for f in files],
        "chunks": len(texts),
        "units": len(units),
        "words": len(words),
        "mean_embed_text_chars": round(chars),
        "repeats": repeats,
        "raw_seconds": [round(t, 2) for t in raw_times],
        "ingest_seconds": [round(t, 2) for t in ingest_times],
        "ingest_embed_share": [round(s, 3) for s in embed_share],
        "parse_and_chunk_seconds": round(prepare_s, 2),
        "table": [
            {
                "pass": "raw model (limit)",
                "seconds": round(min(raw_times), 2),
                "texts/s": round(raw_rate, 1),
            },
            {
                "pass": "warden ingest",
                "seconds": round(min(ingest_times), 2),
                "texts/s": round(ingest_rate, 1),
            },
        ],
    }
    section.notes.append(
        f"{len(texts)} chunks, their {len(units)} units (list items, sentences) and "
        f"{len(words)} vocabulary words from "
        f"{len(files)} file(s) of {ctx.corpus.name} (mean {chars:.0f} "
        "characters embedded per chunk; the smallest files, as many as four passes fit in a "
        f"tenth of the run's budget at the {rate:.1f} chunks/s measured first, at most "
        f"{SUBSET_CHUNKS}); best of {repeats} passes each, alternating, raw first. "
        f"Embedding took {100 * max(embed_share):.0f}% of the ingest's time; parsing and "
        f"chunking alone took {prepare_s:.2f} s; the rest is Chroma writes and the BM25 index."
    )
    section.figures.append(
        Figure(
            name="ingest throughput",
            value=round(ingest_rate, 1),
            unit="texts/s",
            peer="raw sentence-transformers encode of the same chunk and unit texts (limit)",
            peer_value=round(raw_rate, 1),
            ratio=round(ratio, 3),
            ratio_label="ingest / raw",
            goal=">= 0.8",
            met=ratio >= 0.8,
        )
    )
    return section
