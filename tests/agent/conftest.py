"""Agent test fixtures: a Warden over the real retriever, catalogue and a sample SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agent.service import Warden
    from knowledge.catalogue import Catalogue
    from knowledge.retrieval import Retriever
    from tools.store import Store

MakeWarden = Callable[..., "Warden"]


class AllowAllGates:
    """Marker passed as `gates` in tests that need a proposal to be postable."""


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints.sqlite"


@pytest.fixture
def make_warden(
    policy_retriever: Retriever,
    sample_store: Store,
    catalogue: Catalogue,
    checkpoint_file: Path,
) -> Iterator[MakeWarden]:
    """Build a Warden like `build_warden` does, with the test's model and optional backend."""
    from agent.checkpoint import sqlite_checkpoints
    from agent.graph import build_graph
    from agent.llm import model_name
    from agent.service import Warden
    from tools.gateway import LocalPlatform

    opened: list[Any] = []

    def make(model: Any = None, *, backend: Any = None, gates: Any = None) -> Warden:
        checkpoints = sqlite_checkpoints(str(checkpoint_file))
        opened.append(checkpoints)
        graph = build_graph(
            model=model,
            retriever=policy_retriever,
            catalogue=catalogue,
            checkpointer=checkpoints.saver,
            store=sample_store,
            gateway=LocalPlatform(sample_store.engine),
            gates=gates,
            backend=backend,
        )
        return Warden(graph, model_name=model_name(model))

    yield make
    for checkpoints in opened:
        checkpoints.close()
