"""Re-ingest of a folder forgets documents whose files are gone; policy urls reach the hits."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from knowledge.index import build_chroma_client, ingest
from knowledge.retrieval import build_retriever
from tests.fixtures.knowledge import POLICIES_DIR
from warden.settings import Settings


@pytest.fixture
def hash_embedder() -> Any:
    from tests.bench.test_bench_smoke import HashEmbedder

    return HashEmbedder()


def _doc(folder: Path, name: str, topic: str) -> Path:
    path = folder / name
    path.write_text(f"# {topic} rules\n\n## {topic}\n\nWe remove {topic} posts and accounts.\n")
    return path


def test_reingest_removes_documents_whose_files_are_gone(
    tmp_path: Path, hash_embedder: Any
) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    other = tmp_path / "other"
    other.mkdir()
    _doc(folder, "spam.md", "spam")
    gone = _doc(folder / "sub", "scams.md", "scams")
    _doc(other, "threats.md", "threats")
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    run = {"settings": settings, "client": client, "embedder": hash_embedder, "collection": "rei"}
    ingest([folder], **run)
    ingest([other], **run)
    gone.unlink()

    report = ingest([folder], **run)

    assert report.removed_documents == ["sub/scams.md"] and report.deleted == 1
    sources = {m["source"] for m in client.get_collection("rei").get()["metadatas"]}
    assert sources == {"spam.md", "threats.md"}, "another folder's document was removed"
    retriever = build_retriever(settings, embedder=hash_embedder, client=client, collection="rei")
    hits = retriever.search("scams posts", 5, approved_only=False)
    assert all(hit.source != "sub/scams.md" for hit in hits)


def test_removed_current_version_makes_the_older_one_current(
    tmp_path: Path, hash_embedder: Any
) -> None:
    approved = tmp_path / "policies"
    approved.mkdir()
    shutil.copytree(POLICIES_DIR, approved, dirs_exist_ok=True)
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[approved])
    client = build_chroma_client(settings)
    run = {"settings": settings, "client": client, "embedder": hash_embedder, "collection": "ver"}
    ingest([approved], **run)
    (approved / "community" / "hateful-activities.md").unlink()

    report = ingest([approved], **run)

    assert any(key.startswith("HA@") for key in report.removed_documents)
    metas = client.get_collection("ver").get(where={"policy_id": "HA"})["metadatas"]
    assert metas and {m["policy_version"] for m in metas if m["is_current"]} == {"2"}


def test_policy_url_travels_to_hits(tmp_path: Path, hash_embedder: Any) -> None:
    approved = tmp_path / "policies"
    approved.mkdir()
    shutil.copy(POLICIES_DIR / "community" / "spam.md", approved)
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[approved])
    client = build_chroma_client(settings)
    ingest([approved], settings=settings, client=client, embedder=hash_embedder, collection="url")
    retriever = build_retriever(settings, embedder=hash_embedder, client=client, collection="url")
    for mode in ("dense", "hybrid"):
        hits = retriever.search_vector(
            "repeated posts", hash_embedder.embed_query("repeated posts"), 5, mode=mode
        )
        assert hits and {hit.url for hit in hits} == {
            "https://policies.lumen.example/community/spam"
        }
