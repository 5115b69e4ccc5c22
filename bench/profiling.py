"""Where the time goes: a sampling profile (pyinstrument) of a path, summed by component.

The report's findings come from these shares, measured in the same run as the figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "embedding model (torch, transformers)",
        ("sentence_transformers", "transformers", "torch", "tokenizers"),
    ),
    ("Chroma", ("chromadb",)),
    ("BM25 (bm25s)", ("bm25s",)),
    ("Warden knowledge/", ("/knowledge/",)),
    ("Warden agent/", ("/agent/",)),
    ("Warden tools/", ("/tools/",)),
    ("LangGraph / LangChain", ("langgraph", "langchain")),
    ("SQLAlchemy / SQLite", ("sqlalchemy", "sqlite3")),
    ("pydantic", ("pydantic",)),
    ("numpy", ("numpy",)),
    ("the bench itself", ("/bench/",)),
)


def bucket(path: str) -> str:
    for name, needles in BUCKETS:
        if any(n in path for n in needles):
            return name
    return "other (stdlib, threads, waiting)"


def profile(fn: Callable[[], object], repeat: int) -> dict[str, Any]:
    """Run `fn` `repeat` times under the profiler; self time by component and top functions."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    for _ in range(repeat):
        fn()
    profiler.stop()
    return summarise(profiler)


def summarise(profiler: Any) -> dict[str, Any]:
    """Self time of a finished profile, by component and by function."""
    root = profiler.last_session.root_frame() if profiler.last_session else None
    by_bucket: dict[str, float] = defaultdict(float)
    by_function: dict[str, float] = defaultdict(float)
    # A built-in (C) function's time belongs to the Python code that called it: torch's
    # `linear` to the model, `Bindings.query` to Chroma.
    stack: list[tuple[Any, str]] = [(root, "")] if root is not None else []
    while stack:
        frame, owner = stack.pop()
        path = str(frame.file_path or "")
        if path and not path.startswith("<"):
            owner = path
        stack.extend((child, owner) for child in frame.children)
        if frame.is_synthetic:
            continue
        own = float(frame.total_self_time)
        if own <= 0:
            continue
        by_bucket[bucket(owner)] += own
        by_function[f"{frame.function} ({frame.file_path_short}:{frame.line_no})"] += own
    total = sum(by_bucket.values()) or 1.0
    return {
        "seconds": round(total, 3),
        "components": {
            k: round(v / total, 3) for k, v in sorted(by_bucket.items(), key=lambda kv: -kv[1])
        },
        "top_functions": [
            f"{name}: {100 * v / total:.1f}%"
            for name, v in sorted(by_function.items(), key=lambda kv: -kv[1])[:6]
        ],
    }


def describe(result: dict[str, Any]) -> str:
    parts = [f"{k} {100 * v:.0f}%" for k, v in result["components"].items() if v >= 0.02]
    return ", ".join(parts)
