"""`warden ingest|search|policies` through the real Typer commands."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from knowledge import cli
from tests.fixtures.knowledge import POLICIES_DIR
from warden.errors import PolicyError

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder

runner = CliRunner()


@pytest.fixture
def app(
    warden_home: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder, tmp_path: Path
) -> typer.Typer:
    """The knowledge commands on a fresh root app, with the session's embedder (loaded once)."""
    import knowledge.embeddings
    from warden.settings import get_settings

    approved = tmp_path / "approved"
    approved.mkdir()
    shutil.copy(POLICIES_DIR / "community" / "hateful-activities.md", approved)
    monkeypatch.setenv("WARDEN_POLICIES_DIRS", str(approved))
    get_settings.cache_clear()
    builds: list[int] = []

    def build(settings: object) -> Embedder:
        builds.append(1)
        return embedder

    monkeypatch.setattr(knowledge.embeddings, "build_embedder", build)
    root = typer.Typer()
    cli.register(root)
    root.builds = builds  # type: ignore[attr-defined]
    return root


def guidelines(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "acme.md").write_text(
        "# Acme Rules\n\n## Spam\n\nWe remove repetitive unsolicited messages and fake likes.\n\n"
        "## Threats\n\nStatements of intent to physically hurt a person are removed.\n",
        encoding="utf-8",
    )
    return folder


def test_ingest_then_search_json_shape(app: typer.Typer, tmp_path: Path) -> None:
    docs = guidelines(tmp_path / "docs")
    result = runner.invoke(app, ["ingest", str(docs), "--collection", "acme"])
    assert result.exit_code == 0, result.output
    assert "acme" in result.output and "2 chunks" in result.output

    result = runner.invoke(
        app, ["search", "someone said they will hurt me", "-k", "2", "-c", "acme", "--json"]
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 2
    assert set(hits[0]) == {
        "section_id",
        "title",
        "policy_id",
        "policy_version",
        "source",
        "text",
        "score",
        "approved",
        "url",
    }
    assert hits[0]["title"] == "Acme Rules > Threats"
    assert hits[0]["section_id"] == "acme:acme-rules/threats#1"
    assert hits[0]["source"] == "acme.md"
    assert hits[0]["policy_id"] is None and hits[0]["approved"] is False
    assert hits[0]["url"] is None  # no front matter, no published address


def test_search_human_output_and_policy_filters(app: typer.Typer) -> None:
    result = runner.invoke(
        app, ["ingest", str(POLICIES_DIR / "community" / "hateful-activities.md")]
    )
    assert result.exit_code == 0, result.output
    # the file is outside the approved folder given to this app: stored, but not citable
    assert "outside the approved policy folders" in result.output
    result = runner.invoke(app, ["search", "meme comparing a group to rats"])
    assert result.exit_code == 0 and "No passages match" in result.output

    approved = Path(os.environ["WARDEN_POLICIES_DIRS"])
    result = runner.invoke(app, ["ingest", str(approved)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["search", "meme comparing a group to rats", "--policy", "HA"])
    assert result.exit_code == 0, result.output
    assert "HA-2.1" in result.output and "Dehumanising comparisons" in result.output
    assert "v3" in result.output


def test_queries_file_mode_one_json_line_per_query(app: typer.Typer, tmp_path: Path) -> None:
    docs = guidelines(tmp_path / "docs")
    assert runner.invoke(app, ["ingest", str(docs), "-c", "acme"]).exit_code == 0
    queries = tmp_path / "queries.txt"
    queries.write_text("fake likes\n\nthreat to hurt someone\nspam messages\n", encoding="utf-8")
    app.builds.clear()  # type: ignore[attr-defined]
    result = runner.invoke(app, ["search", "--queries", str(queries), "-c", "acme", "-k", "1"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 3 and all(len(hits) == 1 for hits in lines)
    assert [hits[0]["title"] for hits in lines] == [
        "Acme Rules > Spam",
        "Acme Rules > Threats",
        "Acme Rules > Spam",
    ]
    assert app.builds == [1]  # type: ignore[attr-defined]  # the model is loaded once


def test_search_needs_a_query_or_a_file(app: typer.Typer) -> None:
    result = runner.invoke(app, ["search"])
    assert result.exit_code != 0 and "QUERY or --queries" in result.output


def test_malformed_file_error_names_it(app: typer.Typer, tmp_path: Path) -> None:
    docs = guidelines(tmp_path / "docs")
    (docs / "broken.md").write_text("---\nid: [x\n---\n# Broken\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(docs), "-c", "acme"])
    assert isinstance(result.exception, PolicyError)
    assert "broken.md" in str(result.exception) and "Nothing was ingested" in str(result.exception)


def test_unknown_collection_is_explained(app: typer.Typer) -> None:
    result = runner.invoke(app, ["search", "anything", "-c", "nowhere"])
    assert "warden ingest PATH --collection nowhere" in str(result.exception)


def test_policies_lists_the_catalogue(app: typer.Typer) -> None:
    result = runner.invoke(app, ["policies", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["policy"]: row for row in json.loads(result.output)}
    assert rows["HA"]["title"] == "Hateful Activities"
    assert {"domain", "version", "severity", "automatable", "route"} <= set(rows["HA"])
    table = runner.invoke(app, ["policies"])
    assert table.exit_code == 0 and "HA" in table.output
