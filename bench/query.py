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

from bench.context import Context, missing
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
    key = f"synthetic:{max_chunks}"
    if key not in ctx.cache:
        pool = sentence_pool(25 if ctx.quick else 100)
        started = time.perf_counter()
        vectors = ctx.raw.encode(pool.all)
        embed_s = time.perf_counter() - started
        # Same vector space as the real model, so it carries its name (the collection checks it).
        mixture = MixtureEmbedder(
            dict(zip(pool.all, vectors, strict=True)),
            query_embedder=ctx.embedder.embed_query,
            name=ctx.embedder.name,
        )
        corpus = write_corpus(
            ctx.work / f"synthetic-{max_chunks}", pool, max_chunks, per_file=PER_FILE
        )
        ctx.cache[key] = SyntheticParts(pool, mixture, corpus, embed_s)
    parts: SyntheticParts = ctx.cache[key]
    return parts


def run(ctx: Context) -> Section:
    section = Section(
        key="query", title="2. Query latency against the model floor and plain Chroma"
    )
    why = missing("knowledge.index", "knowledge.retrieval", "langchain_chroma")
    if why:
        return section.not_measured(why)
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from knowledge.index import build_chroma_client, ingest
    from knowledge.retrieval import build_retriever

    sizes = ctx.query_sizes or (QUICK_SIZES if ctx.quick else FULL_SIZES)
    n_queries = 15 if ctx.quick else 100

    synth = synthetic_parts(ctx, sizes[-1])
    pool, mixture, corpus, embed_pool_s = synth.pool, synth.mixture, synth.corpus, synth.embed_s
    warden_embedder = ctx.embedder
    root = corpus.root
    settings = ctx.settings("query", policies_dirs=[root])
    client = build_chroma_client(settings)

    class _Peer(_LangchainEmbeddings, Embeddings):
        pass

    peer_embeddings = _Peer(lambda texts: ctx.raw.encode(texts))
    rows: list[dict[str, Any]] = []
    written = 0  # files ingested so far: the index grows in place
    for step, size in enumerate(sizes):
        files = corpus.files[written : size // PER_FILE]
        started = time.perf_counter()
        report = ingest(
            files, settings=settings, client=client, embedder=mixture, collection=COLLECTION
        )
        write_s = time.perf_counter() - started
        written = size // PER_FILE
        retriever = build_retriever(
            settings, embedder=warden_embedder, client=client, collection=COLLECTION
        )
        hybrid = build_retriever(
            settings, embedder=warden_embedder, client=client, collection=COLLECTION, mode="hybrid"
        )
        peer = Chroma(client=client, collection_name=COLLECTION, embedding_function=peer_embeddings)
        count = int(retriever.collection.count())
        paths: dict[str, Callable[[str], object]] = {
            "floor": ctx.raw.encode_query,
            "warden": partial(retriever.search, k=5),
            "warden_hybrid": partial(hybrid.search, k=5),
            "peer": partial(peer.similarity_search, k=5),
        }
        for q in queries(pool, 5, seed=10_000 + step):  # warm caches, HNSW load, lexical load
            for fn in paths.values():
                fn(q)
        times: dict[str, list[float]] = {name: [] for name in paths}
        names = list(paths)
        for i, q in enumerate(queries(pool, n_queries, seed=step)):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                t0 = time.perf_counter()
                paths[name](q)
                times[name].append(time.perf_counter() - t0)
        row: dict[str, Any] = {
            "chunks": count,
            "ingest_seconds": round(write_s, 2),
            "ingest_report": report.model_dump(exclude={"warnings"}),
        }
        for name, values in times.items():
            row[f"{name}_median_ms"] = round(median(values) * 1000, 2)
            row[f"{name}_p99_ms"] = round(p99(values) * 1000, 2)
        rows.append(row)

    section.data = {
        "rows": rows,
        "queries_per_size": n_queries,
        "pool_sentences": len(pool.all),
        "pool_embed_seconds": round(embed_pool_s, 2),
        "mixture_noise": 0.03,
    }
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
            name=f"query median at {last['chunks']:,} chunks",
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
                    ("warden", "Warden retriever (dense, default)"),
                    ("warden_hybrid", "Warden retriever (hybrid)"),
                    ("peer", "langchain-chroma (peer)"),
                )
            ]
            + [Curve(label="Warden p99", x=xs, y=[float(r["warden_p99_ms"]) for r in rows])],
        )
    )
    return section
