"""A separate process for the restart test: resume (or propose) against files on disk.

Usage: python -m tests.agent.restart_child (propose|resume) CHECKPOINT_FILE STORE_URL THREAD [PID]
Prints one JSON line: the pending proposals seen at start, and the response.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


class NoRetrieval:
    """Cluster proposals and resumes never retrieve; a call here would be a bug."""

    def search(self, query: str, k: int = 5, **_: Any) -> Sequence[Any]:
        raise AssertionError(f"unexpected retrieval for {query!r}")


def main(argv: list[str]) -> None:
    mode, checkpoint_file, store_url, thread = argv[:4]
    from agent.checkpoint import sqlite_checkpoints
    from agent.graph import build_graph
    from agent.interface import Decision, Intent, WardenRequest
    from agent.service import Warden
    from knowledge.catalogue import load_catalogue
    from tools.gateway import LocalPlatform
    from tools.store import Store

    store = Store.open(store_url)
    checkpoints = sqlite_checkpoints(checkpoint_file)
    graph = build_graph(
        model=None,
        retriever=NoRetrieval(),
        catalogue=load_catalogue(),
        checkpointer=checkpoints.saver,
        store=store,
        gateway=LocalPlatform(store.engine),
    )
    warden = Warden(graph)
    pending = [p.proposal.id for p in warden.pending(thread)]
    if mode == "propose":
        request = WardenRequest(
            thread_id=thread, user_id="U-req", intent=Intent.PROPOSE, cluster_id="cl-spam-0093"
        )
        response = warden.handle(request)
    else:
        response = warden.resume(thread, Decision(proposal_id=argv[4], decision="approve"))
    print(json.dumps({"pending": pending, "response": response.model_dump(mode="json")}))
    checkpoints.close()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
