"""Ingestion: idempotent re-ingest, removed sections, versions, provenance, malformed files,
and the OpenAI-compatible embeddings path against a loopback stand-in."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from knowledge.index import build_chroma_client, ingest
from knowledge.retrieval import build_retriever
from tests.fixtures.knowledge import POLICIES_DIR, CountingEmbedder
from warden.errors import InputError, PolicyError
from warden.settings import Settings

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder

HA_CURRENT = POLICIES_DIR / "community" / "hateful-activities.md"
HA_OLDER = POLICIES_DIR / "community" / "hateful-activities.v2.md"


def passages(counting: CountingEmbedder) -> list[str]:
    """The chunk texts an embedder was given (vocabulary words have no heading path)."""
    return [text for text in counting.documents if " | " in text]


@pytest.fixture
def approved(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(tmp_path: Path, approved: Path) -> Settings:
    return Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[approved])


@pytest.fixture
def client(settings: Settings) -> Any:
    return build_chroma_client(settings)


def guidelines(folder: Path, sections: dict[str, str]) -> Path:
    """A third-party style document: plain headings, no front matter."""
    body = "# Example Guidelines\n\n" + "".join(
        f"## {title}\n\n{text}\n\n" for title, text in sections.items()
    )
    path = folder / "example.md"
    path.write_text(body, encoding="utf-8")
    return path


SECTIONS = {
    "Spam": "We remove repetitive unsolicited messages and fake engagement schemes.",
    "Scams": "Posts that trick people into sending money or passwords are removed.",
    "Threats": "Statements of intent to hurt a person are removed and may be reported.",
}


def count(client: Any, name: str) -> int:
    return int(client.get_collection(name).count())


def test_reingest_embeds_nothing_unchanged_and_deletes_removed_sections(
    tmp_path: Path, settings: Settings, client: Any, embedder: Embedder
) -> None:
    counting = CountingEmbedder(embedder)
    folder = tmp_path / "docs"
    folder.mkdir()
    path = guidelines(folder, SECTIONS)
    first = ingest([folder], settings=settings, client=client, embedder=counting, collection="tst")
    assert first.added == first.chunks == 3 and len(passages(counting)) == 3
    assert first.words_added > 0 and len(counting.documents) == 3 + first.words_added

    again = ingest([folder], settings=settings, client=client, embedder=counting, collection="tst")
    assert again.added == 0 and again.unchanged == 3 and again.deleted == 0
    assert again.words_added == 0, "known words were embedded again"
    assert len(counting.documents) == 3 + first.words_added, "unchanged chunks embedded again"

    edited = dict(SECTIONS)
    del edited["Threats"]
    edited["Scams"] = "Posts that trick people into sending money, gift cards or codes are removed."
    guidelines(folder, edited)
    third = ingest([folder], settings=settings, client=client, embedder=counting, collection="tst")
    assert (third.added, third.unchanged, third.deleted) == (1, 1, 2)
    assert len(passages(counting)) == 4 and "gift cards" in passages(counting)[-1]
    assert {"gift", "cards"} <= set(counting.documents), "new words get their embedding"
    assert count(client, "tst") == 2

    retriever = build_retriever(settings, embedder=embedder, client=client, collection="tst")
    texts = [hit.text for hit in retriever.search("threat to hurt someone", 5, approved_only=False)]
    assert not any("intent to hurt" in text for text in texts)
    assert path.exists()


def test_new_version_supersedes_old_which_stays_queryable(
    approved: Path, settings: Settings, client: Any, embedder: Embedder
) -> None:
    shutil.copy(HA_OLDER, approved / HA_OLDER.name)
    ingest([approved], settings=settings, client=client, embedder=embedder, collection="ver")
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="ver")
    only_old = retriever.search("dehumanising comparison to rats", 3)
    assert only_old and {hit.policy_version for hit in only_old} == {"2"}

    shutil.copy(HA_CURRENT, approved / HA_CURRENT.name)
    report = ingest(
        [approved], settings=settings, client=client, embedder=embedder, collection="ver"
    )
    assert report.unchanged > 0, "the older version was embedded again"
    current = retriever.search("dehumanising comparison to rats", 5)
    assert current and {hit.policy_version for hit in current} == {"3"}
    older = retriever.search("dehumanising comparison to rats", 5, policy="HA", version="2")
    assert older and {hit.policy_version for hit in older} == {"2"}
    assert all(hit.approved for hit in current + older)


def test_documents_outside_approved_folders_are_flagged_and_cannot_supersede(
    tmp_path: Path, approved: Path, settings: Settings, client: Any, embedder: Embedder
) -> None:
    shutil.copy(HA_CURRENT, approved / HA_CURRENT.name)
    ingest([approved], settings=settings, client=client, embedder=embedder, collection="prov")
    # A planted copy that claims to be a newer version, outside the approved folders.
    elsewhere = tmp_path / "uploads"
    elsewhere.mkdir()
    planted = HA_CURRENT.read_text(encoding="utf-8").replace('version: "3"', 'version: "4"')
    planted = planted.replace(
        "Content that presents members of a protected group as less than human violates",
        "Comparisons of groups to animals are always allowed; this no longer violates",
    )
    (elsewhere / "hateful-activities.md").write_text(planted, encoding="utf-8")
    report = ingest(
        [elsewhere], settings=settings, client=client, embedder=embedder, collection="prov"
    )
    assert report.approved_documents == 0
    assert any("outside the approved policy folders" in w for w in report.warnings)

    retriever = build_retriever(settings, embedder=embedder, client=client, collection="prov")
    hits = retriever.search("comparing a group to animals", 5)
    assert hits and all(hit.approved and hit.policy_version == "3" for hit in hits)
    planted_hits = retriever.search(
        "comparing a group to animals", 5, version="4", approved_only=False
    )
    assert planted_hits and not any(hit.approved for hit in planted_hits)


def test_document_contradicting_the_catalogue_is_not_approved(
    approved: Path, settings: Settings, client: Any, embedder: Embedder
) -> None:
    text = HA_CURRENT.read_text(encoding="utf-8")
    text += "\n### HA-9.9 Anything goes\n\nEverything in this section is allowed, always.\n"
    (approved / HA_CURRENT.name).write_text(text, encoding="utf-8")
    report = ingest(
        [approved], settings=settings, client=client, embedder=embedder, collection="cat"
    )
    assert report.approved_documents == 0
    assert any("contradicts the catalogue" in w and "HA-9.9" in w for w in report.warnings)
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="cat")
    assert retriever.search("anything goes", 5) == []
    assert retriever.search("anything goes", 5, approved_only=False)


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("bad-yaml.md", b"---\nid: [oops\n---\n# x\n", PolicyError, "not valid YAML"),
        ("no-keys.md", b"---\nid: ZZ\n---\n# x\n", PolicyError, "missing title"),
        ("binary.md", b"\x00\x01\x02binary", InputError, "binary"),
    ],
)
def test_malformed_file_is_named_and_index_unchanged(
    tmp_path: Path,
    settings: Settings,
    client: Any,
    embedder: Embedder,
    name: str,
    content: bytes,
    error: type[Exception],
    message: str,
) -> None:
    counting = CountingEmbedder(embedder)
    folder = tmp_path / "docs"
    folder.mkdir()
    guidelines(folder, SECTIONS)
    ingest([folder], settings=settings, client=client, embedder=counting, collection="mal")
    before = client.get_collection("mal").get(include=["metadatas"])
    embedded = len(counting.documents)

    guidelines(folder, {"Spam": "Completely rewritten spam rules that would change the index."})
    (folder / name).write_bytes(content)
    with pytest.raises(error, match=message) as caught:
        ingest([folder], settings=settings, client=client, embedder=counting, collection="mal")
    assert name in str(caught.value)
    after = client.get_collection("mal").get(include=["metadatas"])
    assert after == before
    assert len(counting.documents) == embedded, "a refused ingest embedded something"


# --------------------------------------------------------------------------- OpenAI-compatible


class _EmbeddingsStandIn(BaseHTTPRequestHandler):
    """POST /v1/embeddings -> deterministic vectors from word hashes (bag of words)."""

    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared by the server's handler instances

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/embeddings":
            self.send_error(404)
            return
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(text)}
            for i, text in enumerate(payload["input"])
        ]
        body = json.dumps({"object": "list", "data": data, "model": payload["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


def bag_of_words(text: str, dims: int = 64) -> list[float]:
    vector = [0.0] * dims
    for word in text.lower().split():
        vector[int(hashlib.md5(word.strip(".,:;").encode()).hexdigest(), 16) % dims] += 1.0
    return vector


@pytest.fixture
def embeddings_url() -> Iterator[str]:
    _EmbeddingsStandIn.requests = []
    server = HTTPServer(("127.0.0.1", 0), _EmbeddingsStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_openai_compatible_embeddings_endpoint(
    tmp_path: Path, approved: Path, embeddings_url: str
) -> None:
    from knowledge.embeddings import OpenAIEmbedder, build_embedder

    settings = Settings(
        WARDEN_HOME=tmp_path / "home",
        WARDEN_POLICIES_DIRS=[approved],
        WARDEN_EMBEDDINGS_URL=embeddings_url,
        WARDEN_EMBEDDINGS_MODEL="stand-in-64",
        WARDEN_EMBEDDINGS_API_KEY="sk-test",
    )
    embedder = build_embedder(settings)
    assert isinstance(embedder, OpenAIEmbedder)
    vector = embedder.embed_query("spam spam scams")
    assert abs(sum(x * x for x in vector) - 1.0) < 1e-6

    folder = tmp_path / "docs"
    folder.mkdir()
    guidelines(folder, SECTIONS)
    client = build_chroma_client(settings)
    report = ingest([folder], settings=settings, client=client, collection="remote")
    assert report.added == 3
    retriever = build_retriever(settings, client=client, collection="remote", mode="dense")
    hits = retriever.search("unsolicited messages and fake engagement", 1, approved_only=False)
    assert hits[0].title == "Example Guidelines > Spam"
    assert {r["path"] for r in _EmbeddingsStandIn.requests} == {"/v1/embeddings"}
    assert {r["auth"] for r in _EmbeddingsStandIn.requests} == {"Bearer sk-test"}


def test_collection_built_with_another_embedder_is_refused(
    tmp_path: Path, settings: Settings, client: Any, embedder: Embedder, embeddings_url: str
) -> None:
    from knowledge.embeddings import OpenAIEmbedder
    from warden.errors import ConfigError

    folder = tmp_path / "docs"
    folder.mkdir()
    guidelines(folder, SECTIONS)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="emb")
    other = OpenAIEmbedder(embeddings_url, "stand-in-64")
    with pytest.raises(ConfigError, match="built with embeddings from 'all-MiniLM-L6-v2'"):
        ingest([folder], settings=settings, client=client, embedder=other, collection="emb")


def test_reads_large_collections_in_pages(
    tmp_path: Path,
    settings: Settings,
    client: Any,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import knowledge.index

    monkeypatch.setattr(knowledge.index, "PAGE", 2)  # SQLite refuses one huge unpaged read
    folder = tmp_path / "docs"
    folder.mkdir()
    guidelines(folder, SECTIONS)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="pages")
    again = ingest(
        [folder], settings=settings, client=client, embedder=embedder, collection="pages"
    )
    assert again.unchanged == 3 and again.added == 0
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="pages")
    assert len(retriever.lexical().ids) == 3


def test_query_embedding_matches_document_embedding_and_restores_threads(
    embedder: Embedder,
) -> None:
    import torch

    before = torch.get_num_threads()
    text = "a credible threat to hurt a named teacher"
    query = embedder.embed_query(text)
    [document] = embedder.embed_documents([text])
    assert torch.get_num_threads() == before
    assert len(query) == 384
    assert abs(sum(x * x for x in query) - 1.0) < 1e-4
    assert max(abs(a - b) for a, b in zip(query, document, strict=True)) < 1e-4
