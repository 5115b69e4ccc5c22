"""2. Query latency at growing index sizes: Warden's retriever against the model and plain Chroma.

Per query three paths run back to back, in rotating order so drift hits them alike:
the floor (the embedding model alone embedding the query), Warden (`Retriever.search`, the real
query path: embed, filtered Chroma query, hits), and the peer (langchain-chroma's
`similarity_search` over the same collection with the same model). Warden's hybrid mode is timed
too, as information. The index grows in place (1k, then 10k, then 100k chunks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.context import Context, missing, thread_experiment, torch_threads
from bench.profiling import describe, profile
from bench.results import Chart, Curve, Figure, Section
from bench.stats import growth_exponent, median, p99
from bench.synthetic import (
    MixtureEmbedder,
    SentencePool,
    SyntheticCorpus,
    queries,
    sentence_pool,
    write_corpus,
)

FULL_SIZES = [1_000, 10_000, 100_000]
QUICK_SIZES = [250, 1_000]  # whole files of PER_FILE chunks
PER_FILE = 250
RESERVE_S = 150  # left for the start-up section, which runs after this one
COLLECTION = "bench-synthetic"


class _LangchainEmbeddings:
    """The raw model behind langchain's `Embeddings` interface, for the langchain-chroma peer."""

    def __init__(self, encode: Callable[[list[str]], Any]) -> None:
        self._encode = encode

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self._encode(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self._encode([text])[0]]


@dataclass
class SyntheticParts:
    pool: SentencePool
    mixture: MixtureEmbedder
    corpus: SyntheticCorpus
    embed_s: float


def synthetic_parts(ctx: Context, max_chunks: int) -> SyntheticParts:
    """The sentence pool (embedded for real, once per run), its mixture embedder and the files."""
    from knowledge.index import embedder_name

    key = f"synthetic:{max_chunks}"
    if key not in ctx.cache:
        pool = sentence_pool(25)  # 13 topics x 25: enough distinct triples for 100k chunks
        started = time.perf_counter()
        vectors = ctx.raw.encode(pool.all)
        embed_s = time.perf_counter() - started
        # Same vector space as the real model, so it carries its name (the collection checks it).
        mixture = MixtureEmbedder(
            dict(zip(pool.all, vectors, strict=True)),
            query_embedder=ctx.embedder.embed_query,
            name=embedder_name(ctx.embedder),
            words=ctx.raw.encode,
        )
        corpus = write_corpus(
            ctx.work / f"synthetic-{max_chunks}", pool, max_chunks, per_file=PER_FILE
        )
        ctx.cache[key] = SyntheticParts(pool, mixture, corpus, embed_s)
    parts: SyntheticParts = ctx.cache[key]
    return parts


def _one_query_per_call(fn: Callable[[str], object], qs: list[str]) -> Callable[[], object]:
    """A no-argument callable that sends the next query of `qs` on each call."""
    pending = iter(qs)
    return lambda: fn(next(pending))


def run(ctx: Context) -> Section:
    section = Section(
        key="query", title="2. Query latency against the model floor and plain Chroma"
    )
    why = missing("knowledge.index", "knowledge.retrieval", "langchain_chroma")
    if why:
        return section.not_measured(why)
    from knowledge.index import build_chroma_client

    sizes = ctx.query_sizes or (QUICK_SIZES if ctx.quick else FULL_SIZES)
    n_queries = 15 if ctx.quick else (100 if ctx.time_left() > 600 else 50)
    synth = synthetic_parts(ctx, sizes[-1])
    settings = ctx.settings("query", policies_dirs=[synth.corpus.root])
    client = build_chroma_client(settings)
    # One short query gains nothing from intra-op parallelism; on a loaded machine two torch
    # threads spin against each other and a query embedding takes many times longer (measured
    # here first). Every query-time path then runs single-threaded, the floor included.
    experiment = thread_experiment(ctx, queries(synth.pool, 10 if ctx.quick else 30, seed=77))
    with torch_threads(1):
        rows, paths = _grow_and_measure(ctx, sizes, settings, client, synth, n_queries)
        # Where the query time goes at the largest size, Warden's paths next to the peer's.
        profile_queries = queries(synth.pool, 100, seed=99)
        profiles = {
            name: profile(
                _one_query_per_call(paths[name], profile_queries), 10 if ctx.quick else 30
            )
            for name in ("warden", "warden_dense", "warden_hybrid", "peer")
        }
    if "query_skipped" in ctx.cache:
        section.status = "partial"
        section.reason = ctx.cache["query_skipped"]
    section.data = {
        "threads_experiment_ms": experiment,
        "profiles": profiles,
        "profile": [
            f"{label} at {rows[-1]['chunks']:,} chunks: {describe(profiles[name])}; top: "
            + "; ".join(profiles[name]["top_functions"][:3])
            for name, label in (
                ("warden", f"Warden {rows[-1]['warden_mode']} search (the default)"),
                ("warden_dense", "Warden dense search"),
                ("warden_hybrid", "Warden hybrid search"),
                ("peer", "langchain-chroma search"),
            )
        ],
        "rows": rows,
        "queries_per_size": n_queries,
        "pool_sentences": len(synth.pool.all),
        "pool_embed_seconds": round(synth.embed_s, 2),
        "mixture_noise": 0.03,
    }
    pool, embed_pool_s = synth.pool, synth.embed_s
    default_ms, one_ms = experiment.values()
    last = rows[-1]
    section.data["findings"] = [
        f"Query embedding, torch intra-op threads: {default_ms} ms median with the default "
        f"thread count vs {one_ms} ms with one thread (same model, same queries, interleaved). "
        "A one-sentence input gains nothing from intra-op parallelism and, on a busy machine, "
        "the threads spin against each other. Suggested fix (knowledge/embeddings.py, "
        "`LocalEmbedder._encode`, owned by the retrieval helper): embed single queries with "
        "`torch.set_num_threads(1)` in serving processes (or a WARDEN_EMBED_THREADS setting); "
        "keep batches for ingest multi-threaded. The bench runs query paths single-threaded.",
        f"At {last['chunks']:,} chunks Warden's default ({last['warden_mode']}) search takes "
        f"{last['warden_median_ms']} ms median vs {last['floor_median_ms']} ms for the embedding "
        f"alone and {last['peer_median_ms']} ms for langchain-chroma; dense "
        f"{last['warden_dense_median_ms']} ms, hybrid {last['warden_hybrid_median_ms']} ms.",
    ]
    default_label, one_label = experiment
    section.notes.append(
        "Query-time embedding runs with one torch thread for every path (floor, Warden, peer). "
        f"Measured first in this run: one query embedding took {experiment[default_label]} ms "
        f"(median) with the {default_label} and {experiment[one_label]} ms with one thread."
    )
    section.notes.append(
        f"Synthetic corpus: {len(pool.all)} policy-like sentences embedded for real "
        f"({embed_pool_s:.0f} s); each chunk is three sentences of one topic, its vector the "
        "normalised mean of their real vectors plus small deterministic noise. Files go through "
        "Warden's own `knowledge.index.ingest` (parsing, chunking, Chroma and BM25 writes) with "
        "only the embedding call replaced. Queries are distinct per size and embedded for real."
    )
    last = rows[-1]
    floor, warden, peer = last["floor_median_ms"], last["warden_median_ms"], last["peer_median_ms"]
    section.figures += [
        Figure(
            name=f"query median at {last['chunks']:,} chunks ({last['warden_mode']}, the default)",
            value=warden,
            unit="ms",
            peer="embedding model alone on the query (floor)",
            peer_value=floor,
            ratio=round(warden / floor, 2),
            ratio_label="Warden / floor",
            goal="<= 1.5",
            met=warden / floor <= 1.5,
        ),
        Figure(
            name=f"query median at {last['chunks']:,} chunks",
            value=warden,
            unit="ms",
            peer="langchain-chroma similarity_search, same collection and model (peer)",
            peer_value=peer,
            ratio=round(warden / peer, 2),
            ratio_label="Warden / peer",
        ),
        Figure(
            name=f"query p99 at {last['chunks']:,} chunks",
            value=last["warden_p99_ms"],
            unit="ms",
            peer="floor p99 / peer p99",
            peer_value=last["floor_p99_ms"],
            ratio=round(last["warden_p99_ms"] / last["floor_p99_ms"], 2),
            ratio_label="Warden p99 / floor p99",
        ),
    ]
    xs = [float(r["chunks"]) for r in rows]
    over_floor = [max(r["warden_median_ms"] - r["floor_median_ms"], 0.01) for r in rows]
    exponent = growth_exponent(xs, over_floor)
    if exponent is not None:
        section.figures.append(
            Figure(
                name="growth of Warden's time beyond the floor",
                value=round(exponent, 2),
                unit="log-log slope",
                peer="linear growth (slope 1.0)",
                peer_value=1.0,
                ratio=round(exponent, 2),
                ratio_label="slope",
                goal="< 1 (sub-linear)",
                met=exponent < 1.0,
            )
        )
    section.charts.append(
        Chart(
            file="query_latency.png",
            title="Query latency as the index grows (median)",
            x_label="chunks in the index",
            y_label="ms per query",
            log_x=True,
            curves=[
                Curve(label=label, x=xs, y=[float(r[f"{key}_median_ms"]) for r in rows])
                for key, label in (
                    ("floor", "embedding model alone (floor)"),
                    ("warden_dense", "Warden retriever, dense"),
                    ("warden_hybrid", "Warden retriever, hybrid"),
                    ("peer", "langchain-chroma (peer)"),
                )
            ]
            + [
                Curve(
                    label=f"Warden p99 (default mode: {rows[-1]['warden_mode']})",
                    x=xs,
                    y=[float(r["warden_p99_ms"]) for r in rows],
                )
            ],
        )
    )
    return section


def _projected_s(last: dict[str, Any], size: int) -> float:
    """Seconds the next size will likely take: writes scale with the chunks added."""
    grown: float = (size - int(last["chunks"])) / max(int(last["chunks"]), 1)
    return float(last["ingest_seconds"]) * grown + float(last["query_seconds"]) + 60.0


def _grow_and_measure(
    ctx: Context,
    sizes: list[int],
    settings: Any,
    client: Any,
    synth: SyntheticParts,
    n_queries: int,
) -> tuple[list[dict[str, Any]], dict[str, Callable[[str], object]]]:
    """Grow the index to each size in turn; time every query path at each size."""
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from knowledge.index import ingest
    from knowledge.retrieval import build_retriever

    class _Peer(_LangchainEmbeddings, Embeddings):
        pass

    peer_embeddings = _Peer(lambda texts: ctx.raw.encode(texts))
    warden_embedder = ctx.embedder
    rows: list[dict[str, Any]] = []
    paths: dict[str, Callable[[str], object]] = {}
    written = 0  # files ingested so far: the index grows in place
    for step, size in enumerate(sizes):
        if rows and ctx.time_left() - RESERVE_S < _projected_s(rows[-1], size):
            # Reported, never extrapolated: the row for this size is simply absent.
            ctx.cache["query_skipped"] = (
                f"{size:,} chunks not measured: about {_projected_s(rows[-1], size):.0f} s "
                f"projected, {ctx.time_left():.0f} s left in the run's budget"
            )
            break
        files = synth.corpus.files[written : size // PER_FILE]
        started = time.perf_counter()
        report = ingest(
            files, settings=settings, client=client, embedder=synth.mixture, collection=COLLECTION
        )
        write_s = time.perf_counter() - started
        written = size // PER_FILE
        retriever = build_retriever(
            settings, embedder=warden_embedder, client=client, collection=COLLECTION
        )
        dense = build_retriever(
            settings, embedder=warden_embedder, client=client, collection=COLLECTION, mode="dense"
        )
        hybrid = build_retriever(
            settings, embedder=warden_embedder, client=client, collection=COLLECTION, mode="hybrid"
        )
        peer = Chroma(client=client, collection_name=COLLECTION, embedding_function=peer_embeddings)
        count = int(retriever.collection.count())
        paths = {
            "floor": ctx.raw.encode_query,
            "warden": partial(retriever.search, k=5),
            "warden_dense": partial(dense.search, k=5),
            "warden_hybrid": partial(hybrid.search, k=5),
            "peer": partial(peer.similarity_search, k=5),
        }
        for q in queries(synth.pool, 5, seed=10_000 + step):  # warm: HNSW and lexical loads
            for fn in paths.values():
                fn(q)
        times: dict[str, list[float]] = {name: [] for name in paths}
        names = list(paths)
        query_started = time.perf_counter()
        for i, q in enumerate(queries(synth.pool, n_queries, seed=step)):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                t0 = time.perf_counter()
                paths[name](q)
                times[name].append(time.perf_counter() - t0)
        row: dict[str, Any] = {
            "chunks": count,
            "query_seconds": round(time.perf_counter() - query_started, 1),
            "warden_mode": retriever.mode,
            "ingest_seconds": round(write_s, 2),
            "ingest_report": report.model_dump(exclude={"warnings"}),
        }
        for name, values in times.items():
            row[f"{name}_median_ms"] = round(median(values) * 1000, 2)
            row[f"{name}_p99_ms"] = round(p99(values) * 1000, 2)
        rows.append(row)
    return rows, paths
