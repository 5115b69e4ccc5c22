"""LangGraph ecosystem: langgraph.json names a factory; interrupts carry the agent-inbox shape."""

from __future__ import annotations

import importlib
import json
from typing import Any

from agent.interface import Intent, ProposalPending, WardenRequest
from agent.service import approval_thread
from warden.settings import PACKAGE_ROOT


def test_langgraph_json_points_at_a_graph_factory() -> None:
    config = json.loads((PACKAGE_ROOT / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["warden"].partition(":")
    module = importlib.import_module(path.removeprefix("./").removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, attr))


def test_the_approval_interrupt_carries_the_hitl_request(make_warden: Any) -> None:
    warden = make_warden()
    thread = "C-ops:1700000000.000900"
    out = warden.handle(
        WardenRequest(
            thread_id=thread, user_id="U-req", intent=Intent.PROPOSE, cluster_id="cl-spam-0093"
        )
    )
    assert isinstance(out, ProposalPending)
    snapshot = warden.graph.get_state(
        {"configurable": {"thread_id": approval_thread(thread, out.proposal.id)}}
    )
    value = snapshot.interrupts[0].value
    assert value["proposal"]["id"] == out.proposal.id  # our own fields stay
    assert value["action_request"]["args"]["proposal_id"] == out.proposal.id
    assert value["config"] == {
        "allow_ignore": True,
        "allow_respond": False,
        "allow_edit": False,
        "allow_accept": True,
    }
    assert out.proposal.id in value["description"]
