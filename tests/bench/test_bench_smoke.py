"""A fast smoke test of the bench harness: tiny sizes, a hashing embedder instead of MiniLM.

The figures of such a run mean nothing; what is tested is that the sections run Warden's real
ingest and query paths, compute their ratios, and write results.json, REPORT.md and the charts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from bench import runner
from bench.chat_model import CallInfo, CountingChatModel, count_text
from bench.context import Context, missing
from bench.results import BenchResults, Section
from bench.stats import growth_exponent, p99, percentile
from bench.synthetic import MixtureEmbedder, sentence_pool, write_corpus

DIM = 64


def _vector(text: str) -> np.ndarray:
    """Bag of hashed words, normalised: similar texts get similar vectors, deterministically."""
    v = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().split():
        v[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    norm = np.linalg.norm(v)
    return v / norm if norm else v + 1.0 / np.sqrt(DIM)


class HashRaw:
    load_seconds = 0.0

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return np.stack([_vector(t) for t in texts])

    def encode_query(self, text: str) -> np.ndarray:
        return _vector(text)


class HashEmbedder:
    name = "bench-hash"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [_vector(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return _vector(text).tolist()


GUIDE = """# Example community rules

## Posting rules

Members must not post threats against a named person, and moderators remove such posts quickly.
Repeated threats lead to a suspension of the account after a review by a second moderator.

## Selling rules

Listings for counterfeit goods are removed, and the seller receives a warning on the first case.
Sellers who keep listing replicas lose access to the marketplace for thirty days at least.
"""


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.md").write_text(GUIDE, encoding="utf-8")
    return Context(
        quick=True,
        work=tmp_path / "work",
        corpus=corpus,
        query_sizes=[250, 500],
        subprocesses=False,
        _raw=HashRaw(),  # type: ignore[arg-type]
        _embedder=HashEmbedder(),
    )


def test_quick_run_measures_and_writes_report(ctx: Context, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = runner.run(ctx, out, only=["ingest", "query"], command="pytest")

    by_key = {s.key: s for s in results.sections}
    assert by_key["ingest"].status == "measured", by_key["ingest"].data.get("traceback")
    assert by_key["query"].status == "measured", by_key["query"].data.get("traceback")
    ingest = by_key["ingest"].figures[0]
    assert ingest.value and ingest.peer_value and ingest.ratio and ingest.ratio > 0
    assert by_key["ingest"].data["chunks"] == 2  # both sections of the guide, each one chunk
    rows = by_key["query"].data["rows"]
    assert [r["chunks"] for r in rows] == [250, 500]  # the index grew in place
    assert all(r["warden_median_ms"] > 0 and r["peer_median_ms"] > 0 for r in rows)

    saved = BenchResults.model_validate(json.loads((out / "results.json").read_text()))
    assert [s.key for s in saved.sections] == ["ingest", "query"]
    report = (out / "REPORT.md").read_text()
    assert "1. Ingest throughput" in report and "Warden / floor" in report
    chart = out / "charts" / "query_latency.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_section_is_reported_not_measured(ctx: Context) -> None:
    def broken(_: Context) -> Section:
        raise RuntimeError("the piece under test blew up")

    [section] = runner._run_one("broken", broken, ctx)
    assert section.status == "not measured"
    assert section.reason == "RuntimeError: the piece under test blew up"
    assert missing("bench.no_such_piece") == "bench/no_such_piece.py has not landed"
    assert missing("bench.stats") is None


def test_statistics() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert p99(values) == pytest.approx(99.01)
    assert growth_exponent([1e3, 1e4, 1e5], [1.0, 10.0, 100.0]) == pytest.approx(1.0)
    assert growth_exponent([1e3, 1e4, 1e5], [5.0, 5.0, 5.0]) == pytest.approx(0.0)


def test_mixture_vectors_follow_their_sentences(tmp_path: Path) -> None:
    pool = sentence_pool(10, topics=2)
    vectors = {s: _vector(s) for s in pool.all}
    corpus = write_corpus(tmp_path, pool, 12, per_file=6)
    assert len(corpus.files) == 2 and len(set(corpus.bodies)) == 12
    embedder = MixtureEmbedder(vectors, query_embedder=lambda q: [], name="x", noise=0.0)
    body = corpus.bodies[0]
    [got] = embedder.embed_documents([f"Some title | Some > path\n{body}"])
    parts = [vectors[s] for s in pool.all if s in body]
    expected = np.mean(parts, axis=0)
    assert np.allclose(got, expected / np.linalg.norm(expected), atol=1e-5)


def test_counting_model_counts_messages_and_schema() -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    seen: list[CallInfo] = []

    def responder(messages: list, info: CallInfo) -> AIMessage:
        seen.append(info)
        return AIMessage(content='{"answer": "ok"}')

    model = CountingChatModel(responder=responder)
    schema = {"name": "policy_answer", "schema": {"type": "object"}}
    out = model.with_structured_output(schema, include_raw=True).invoke(
        [SystemMessage("be brief"), HumanMessage("is this allowed?")]
    )
    assert out["parsed"] == {"answer": "ok"}
    [record] = model.ledger.records
    expected = 3 + count_text("be brief") + 3 + count_text("is this allowed?") + 3
    assert record.prompt_tokens == expected + count_text(json.dumps(schema))
    assert record.kind == "structured:policy_answer"
    assert seen[0].response_format == schema
