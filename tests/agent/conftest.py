"""Agent test fixtures: a Warden over the real retriever, catalogue and a sample SQLite store."""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="session")
def sample_store_template(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    """The sample data loaded ONCE into a SQLite file; each test gets a copy (fast, isolated)."""
    from tools.cases import load_sample
    from tools.store import Store

    path = tmp_path_factory.mktemp("agent-store") / "template.db"
    store = Store.open(f"sqlite:///{path}")
    load_sample(store, catalogue)
    store.close()
    return path


@pytest.fixture
def sample_store(sample_store_template: Path, tmp_path: Path) -> Iterator[Store]:
    """Overrides the shared fixture for agent tests: a private copy of the loaded template."""
    from tools.store import Store

    copy = tmp_path / "store.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{sample_store_template}{suffix}")
        if source.exists():
            shutil.copy(source, f"{copy}{suffix}")
    store = Store.open(f"sqlite:///{copy}")
    try:
        yield store
    finally:
        store.close()


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
