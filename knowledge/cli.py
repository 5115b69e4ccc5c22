"""`warden ingest|search|policies|retrieval-eval`: the policy index from the shell.

Chroma, torch and the embedding model are imported inside the commands, never at module top.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from knowledge.retrieval import Hit, Retriever
    from warden.settings import Settings

HIT_FIELDS = (
    "section_id", "title", "policy_id", "policy_version", "source", "text", "score", "url"
)  # fmt: skip


def _settings() -> Settings:
    from warden.settings import get_settings

    return get_settings()


def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="markdown, text or HTML files or folders")],
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="index name (default: policies)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Index policy documents; every file is validated before anything is written."""
    from knowledge.index import ingest

    report = ingest(
        paths, settings=_settings(), collection=collection, progress=sys.stderr.isatty()
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    from rich.console import Console

    console = Console()
    console.print(
        f"[bold]{report.collection}[/]: {report.files} files, {report.documents} documents, "
        f"{report.chunks} chunks ({report.added} embedded, {report.unchanged} unchanged, "
        f"{report.updated} re-labelled, {report.deleted} deleted) in {report.seconds}s; "
        f"{report.approved_documents} approved policy documents."
    )
    if report.units_added or report.words_added:
        console.print(
            f"also embedded for matching: {report.units_added} list items and sentences, "
            f"{report.words_added} new vocabulary words.",
            highlight=False,
        )
    for removed in report.removed_documents:
        console.print(f"removed: {removed} (its file is gone)", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _hit_json(hit: Hit) -> dict[str, object]:
    return {**hit.model_dump(include=set(HIT_FIELDS)), "approved": hit.approved}


def search_command(
    query: Annotated[str | None, typer.Argument(help="what to look for")] = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=100, help="hits to return")] = 5,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="index name (default: policies)")
    ] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="only this policy id")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="search this policy version, not the current")
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option("--queries", help="file with one query per line; prints one JSON line each"),
    ] = None,
    include_unapproved: Annotated[
        bool,
        typer.Option(
            "--include-unapproved",
            help="also show passages not from approved policy folders "
            "(always on for collections other than Warden's own)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print hits as JSON")] = False,
) -> None:
    """Search an index: the best matching sections with their ids, versions and sources."""
    if (query is None) == (queries is None):
        raise typer.BadParameter("give a QUERY or --queries FILE (one of them)")
    from knowledge.retrieval import build_retriever
    from warden.errors import InputError

    settings = _settings()
    name = collection or settings.collection
    approved_only = not include_unapproved and name == settings.collection
    retriever = build_retriever(settings, collection=name)
    if queries is not None:
        try:
            lines = queries.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{queries}: cannot read the queries file: {exc}") from exc
        for line in lines:
            if not line.strip():
                continue
            hits = _search(retriever, line, k, policy, version, approved_only)
            typer.echo(json.dumps([_hit_json(hit) for hit in hits], ensure_ascii=False))
        return
    assert query is not None
    hits = _search(retriever, query, k, policy, version, approved_only)
    if as_json:
        typer.echo(json.dumps([_hit_json(hit) for hit in hits], ensure_ascii=False, indent=2))
        return
    _print_hits(query, hits)


def _search(
    retriever: Retriever,
    query: str,
    k: int,
    policy: str | None,
    version: str | None,
    approved_only: bool,
) -> list[Hit]:
    return retriever.search(query, k, policy=policy, version=version, approved_only=approved_only)


def _print_hits(query: str, hits: list[Hit]) -> None:
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.text import Text

    console = Console()
    if not hits:
        console.print(f"No passages match {query!r}. Check the index name and filters.")
        return
    for rank, hit in enumerate(hits, start=1):
        version = f" v{hit.policy_version}" if hit.policy_version else ""
        flag = "" if hit.approved else "  (not approved policy)"
        text = hit.text if len(hit.text) <= 700 else hit.text[:700].rstrip() + " …"
        # Text objects, not markup: policy text may contain [brackets] that rich would eat.
        body = Group(Text(hit.title, style="bold"), Text(text))
        console.print(
            Panel(
                body,
                title=Text(f"{rank}. {hit.section_id}{version}"),
                subtitle=Text(f"{hit.source}  score {hit.score:.4f}{flag}"),
                title_align="left",
                subtitle_align="right",
            )
        )


def policies_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="print the catalogue rows as JSON")
    ] = False,
) -> None:
    """List the policy catalogue: id, title, domain, version, severity, automatable, route."""
    from knowledge.catalogue import load_catalogue, render_rows

    rows = render_rows(load_catalogue(_settings().catalogue_dir))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    columns = ("policy", "title", "domain", "version", "severity", "automatable", "route")
    table = Table(*columns, title="Policy catalogue")
    for row in rows:
        table.add_row(*(row[column] for column in columns))
    Console().print(table)


def retrieval_eval_command(
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    platform_dir: Annotated[
        Path | None,
        typer.Option("--platform-dir", help="folder of third-party guidelines to evaluate on"),
    ] = None,
    heldback: Annotated[
        bool,
        typer.Option(
            "--heldback/--no-heldback",
            help="include the held-back and final hard questions (leave them out while tuning)",
        ),
    ] = True,
) -> None:
    """Score dense and hybrid retrieval (recall@1/5, MRR) on the labelled question sets."""
    from knowledge import evaluate

    report = evaluate.run(
        _settings(),
        platform_dir=platform_dir or evaluate.PLATFORM_CORPUS,
        progress=not as_json and sys.stderr.isatty(),
        heldback=heldback,
    )
    typer.echo(evaluate.to_json(report) if as_json else evaluate.render(report))


def register(app: typer.Typer) -> None:
    """Attach this package's commands to the root `warden` app."""
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
    app.command("policies")(policies_command)
    app.command("retrieval-eval")(retrieval_eval_command)
