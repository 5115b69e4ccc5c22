"""The distributed path: a real `chroma run` server on loopback, reached through HttpClient."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from knowledge.index import build_chroma_client, ingest
from knowledge.retrieval import build_retriever
from tests.fixtures.knowledge import POLICIES_DIR, CountingEmbedder
from warden.settings import Settings

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder

pytestmark = pytest.mark.chroma_server

CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = CHROMA if CHROMA.exists() else shutil.which("chroma")
    if not binary:
        pytest.skip(f"the chroma server binary is not installed (looked for {CHROMA})")
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(binary),
            "run",
            "--path",
            str(data / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(120):  # bounded: at most ~60 s for the server to answer
            if process.poll() is not None:
                pytest.fail(f"chroma run exited early: {(data / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("chroma run did not answer its heartbeat within 60 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_ingest_and_search_through_a_chroma_server(
    chroma_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    approved = tmp_path / "policies"
    approved.mkdir()
    shutil.copy(POLICIES_DIR / "community" / "hateful-activities.md", approved)
    settings = Settings(
        WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[approved], WARDEN_CHROMA_URL=chroma_url
    )
    client = build_chroma_client(settings)
    assert type(client).__name__ != "PersistentClient"
    assert not settings.chroma_path.exists(), "the server path must not create a local index"

    counting = CountingEmbedder(embedder)
    first = ingest([approved], settings=settings, client=client, embedder=counting)
    assert first.added == first.chunks > 0 and first.approved_documents == 1
    again = ingest([approved], settings=settings, client=client, embedder=counting)
    assert again.added == 0 and len(counting.documents) == (
        first.chunks + first.units_added + first.words_added
    )

    # A second process would build its own client from the same settings: do the same here.
    retriever = build_retriever(settings, embedder=embedder)
    hits = retriever.search("meme that compares an ethnic group to rats", 3)
    assert hits[0].section_id == "HA-2.1" and hits[0].approved
    dense = build_retriever(settings, embedder=embedder, mode="dense")
    assert dense.search("meme that compares an ethnic group to rats", 1)[0].section_id == "HA-2.1"
