"""3. Retrieval quality next to its cost: Warden's retrieval against plain dense retrieval.

Reuses `knowledge.evaluate` (both labelled question sets; every question embedded once and
searched both ways). Warden's retrieval is its default mode; plain dense is the Chroma cosine
query alone over the same chunks. Cost is the median index time per query after embedding.
"""

from __future__ import annotations

from bench.context import Context, missing
from bench.results import Figure, Section


def run(ctx: Context) -> Section:
    section = Section(key="quality", title="3. Retrieval quality (recall@5) and its cost")
    why = missing("knowledge.evaluate", "knowledge.index", "knowledge.retrieval")
    if why:
        return section.not_measured(why)
    from knowledge import evaluate

    # The third-party corpus only when the ingest section could embed all of it in budget.
    skipped = ctx.cache.get("platform_skipped")
    platform = None if skipped or ctx.quick or not ctx.corpus.is_dir() else ctx.corpus
    report = evaluate.run(
        ctx.index_settings, embedder=ctx.cached_embedder, client=ctx.client, platform_dir=platform
    )
    default = report.default_mode
    table = []
    for qset in report.sets:
        for mode, score in qset.modes.items():
            table.append(
                {
                    "question set": f"{qset.name} ({qset.questions} q, {qset.chunks} chunks)",
                    "mode": mode + (" (Warden default)" if mode == default else ""),
                    "recall@1": score.recall_at_1,
                    "recall@5": score.recall_at_5,
                    "MRR": score.mrr,
                    "index ms/query": score.median_query_ms,
                    "embed ms/query": qset.median_embed_ms,
                    "mean chunk chars": score.mean_chunk_chars,
                }
            )
        warden = qset.modes[default]
        dense = qset.modes["dense"]
        goal = ">= 0.95" if qset.name == "warden" else ">= 0.85"
        section.figures.append(
            Figure(
                name=f"recall@5, {qset.name} questions ({qset.questions})",
                value=warden.recall_at_5,
                unit="",
                peer="plain dense retrieval (Chroma cosine only), same chunks",
                peer_value=dense.recall_at_5,
                ratio=round(warden.recall_at_5 / dense.recall_at_5, 3)
                if dense.recall_at_5
                else None,
                ratio_label="Warden / dense",
                goal=f"{goal} (retrieval goal)",
                met=warden.recall_at_5 >= float(goal.split()[1]),
            )
        )
        section.figures.append(
            Figure(
                name=f"index time per query, {qset.name} set",
                value=warden.median_query_ms,
                unit="ms",
                peer="plain dense query time",
                peer_value=dense.median_query_ms,
                ratio=round(warden.median_query_ms / dense.median_query_ms, 2)
                if dense.median_query_ms
                else None,
                ratio_label="Warden / dense",
            )
        )
    section.data = {"table": table, "report": report.model_dump()}
    if platform is None:
        section.status = "partial"
        section.reason = f"platform-guidelines questions not measured: {skipped or 'quick mode'}"
    section.notes.append(
        f"Warden's default retrieval mode is `{default}` (the retrieval helper keeps hybrid "
        "BM25+RRF only where it measurably beats dense); both modes are listed. Index time is "
        "the search after the query is embedded (embedding time shown separately)."
    )
    if default == "dense":
        section.notes.append(
            "With dense as the default, Warden's ranking is the plain dense ranking over its own "
            "chunks (heading path embedded with each chunk), so the ratio is 1 by construction; "
            "the hybrid rows show what fusion would change."
        )
    return section
