"""`Warden.warm_up` loads the embedding model and the indexes with no question asked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.store import Store
    from warden.settings import Settings


def test_warm_up_loads_the_embedder_without_a_query(
    policy_settings: Settings,
    policy_client: Any,
    policy_retriever: Any,  # ingests the policies once per session
    sample_store: Store,
    tmp_path: Path,
) -> None:
    from agent.service import build_warden
    from knowledge.embeddings import LocalEmbedder
    from knowledge.retrieval import build_retriever
    from tools.gateway import LocalPlatform

    fresh = LocalEmbedder()  # not loaded yet: the session's shared embedder already is
    retriever = build_retriever(policy_settings, embedder=fresh, client=policy_client)
    settings = policy_settings.model_copy(update={"home": tmp_path})
    warden = build_warden(
        settings,
        retriever=retriever,
        store=sample_store,
        gateway=LocalPlatform(sample_store.engine),
    )
    try:
        # Building is not slowed down by the load: it has not happened yet.
        assert fresh._model is None
        thread = warden.warm_up()
        thread.join(timeout=300)
        assert not thread.is_alive()
        assert fresh._model is not None, "warm_up did not load the embedding model"
        assert retriever._lexical is not None, "warm_up did not load the lexical index"
    finally:
        warden.close()


def test_warm_up_failure_is_logged_not_raised(caplog: Any) -> None:
    from agent.service import Warden

    class Broken:
        def search(self, query: str, k: int = 5) -> list[Any]:
            raise RuntimeError("index missing")

    warden = Warden(graph=None, retriever=Broken())  # type: ignore[arg-type]
    thread = warden.warm_up()
    thread.join(timeout=30)
    assert "warming the retriever failed" in caplog.text
