"""The graph factory LangGraph Studio and LangGraph Server load (`langgraph.json`).

    langgraph dev            # or: langgraph up; both read langgraph.json at the repo root

Every client (chat model, retriever, store, gateway, checkpoints) is built from settings by
`build_warden`, the same factory the Slack app and the CLI use, so Studio runs the same graph.
LangSmith tracing is switched on by LangSmith's own environment variables
(`LANGSMITH_TRACING=true`, `LANGSMITH_API_KEY`, `LANGSMITH_PROJECT`). `Warden` passes its
redacting tracer (`agent.tracing`) with every run; LangGraph Server traces the graph with its own
client, so there set `LANGSMITH_HIDE_INPUTS=true` / `LANGSMITH_HIDE_OUTPUTS=true`.
"""

from __future__ import annotations

from typing import Any


def make_graph(config: Any = None) -> Any:
    """The compiled Warden graph, with every client built from settings (the environment)."""
    from agent.service import build_warden
    from warden.settings import get_settings

    return build_warden(get_settings()).graph


def hitl_request(proposal: dict[str, Any], blast_radius: dict[str, Any] | None) -> dict[str, Any]:
    """The agent-inbox human-in-the-loop request for a paused proposal (our payload keeps its
    own fields beside it). Accept or ignore only: an approver never edits the actions."""
    total = (blast_radius or {}).get("total_actions")
    return {
        "action_request": {
            "action": "decide_proposal",
            "args": {
                "proposal_id": proposal.get("id"),
                "action": proposal.get("action"),
                "policy_id": proposal.get("policy_id"),
                "section_ids": proposal.get("section_ids", []),
                "total_actions": total,
            },
        },
        "config": {
            "allow_ignore": True,
            "allow_respond": False,
            "allow_edit": False,
            "allow_accept": True,
        },
        "description": (
            f"Approve or reject proposal {proposal.get('id')}: {proposal.get('action')} under "
            f"{proposal.get('policy_id')} ({total} actions). Resume with a Decision that an "
            "authorised approver has already recorded."
        ),
    }
