"""Checkpoints on Postgres (when WARDEN_DATABASE_URL is Postgres): a proposal waits across pools."""

from __future__ import annotations

from typing import Any

import pytest

from agent.checkpoint import build_checkpoints
from agent.graph import build_graph
from agent.interface import Decision, Intent, ProposalOutcome, ProposalPending, WardenRequest
from agent.service import Warden
from tests.agent.restart_child import NoRetrieval
from tools import proposals

pytestmark = pytest.mark.postgres


def test_postgres_checkpoints_survive_a_new_pool(pg_url: str, catalogue: Any) -> None:
    from tools.cases import load_sample
    from tools.gateway import LocalPlatform
    from tools.store import Store
    from warden.settings import Settings

    store = Store.open(pg_url)
    load_sample(store, catalogue)
    settings = Settings(WARDEN_DATABASE_URL=pg_url)

    def warden(checkpoints: Any) -> Warden:
        graph = build_graph(
            model=None,
            retriever=NoRetrieval(),
            catalogue=catalogue,
            checkpointer=checkpoints.saver,
            store=store,
            gateway=LocalPlatform(store.engine),
        )
        return Warden(graph)

    try:
        with build_checkpoints(settings) as first:
            assert type(first.saver).__name__ == "PostgresSaver"
            pending = warden(first).handle(
                WardenRequest(
                    thread_id="C:pg",
                    user_id="U-req",
                    intent=Intent.PROPOSE,
                    cluster_id="cl-spam-0093",
                )
            )
            assert isinstance(pending, ProposalPending)
        pid = pending.proposal.id
        assert proposals.approve(
            store, pid, "U-lead", pending.proposal.action_hash, approvers={"U-lead"}
        ).accepted
        with build_checkpoints(settings) as second:
            again = warden(second)
            assert [p.proposal.id for p in again.pending("C:pg")] == [pid]
            out = again.resume("C:pg", Decision(proposal_id=pid, decision="approve"))
            assert isinstance(out, ProposalOutcome) and out.applied == 9
    finally:
        store.close()
