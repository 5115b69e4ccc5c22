"""The ReAct peer takes the fewest steps its tools allow and passes the same grounding checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.agents import Req, _peer_grounded, run_peer
from bench.chat_model import CountingChatModel
from bench.react_peer import PEER_SYSTEM, make_tools, peer_responder
from tools.models import Case, ContentItem


class FakeRetriever:
    """Returns fixed Warden policy sections, as the real retriever's `Hit`s."""

    def search(self, query: str, k: int = 5, **_: Any) -> list[Any]:
        from knowledge.retrieval import Hit

        return [
            Hit(
                section_id=sid,
                title=f"Hateful Activities > {sid}",
                policy_id="HA",
                policy_version="3",
                source="hateful-activities.md",
                text="Comparing a protected group to vermin is removed.",
                score=0.8,
                approved=True,
            )
            for sid in ("HA-2.1", "HA-2.3")
        ][:k]


class FakeStore:
    def get_case(self, case_id: str) -> Case:
        item = ContentItem(id="i1", author_id="acct-1", text="they are rats, get them out")
        return Case(id=case_id, opened_at=datetime(2026, 11, 1, tzinfo=UTC), items=[item])


@pytest.fixture(scope="module")
def peer() -> tuple[Any, CountingChatModel, Any]:
    from langgraph.prebuilt import create_react_agent

    from knowledge.catalogue import load_catalogue
    from tools.gates import load_gates

    catalogue = load_catalogue()
    model = CountingChatModel(responder=peer_responder)
    tools = make_tools(FakeRetriever(), FakeStore(), catalogue, load_gates())  # type: ignore[arg-type]
    return create_react_agent(model, tools, prompt=PEER_SYSTEM), model, catalogue


def test_policy_question_is_search_then_answer(peer: tuple[Any, CountingChatModel, Any]) -> None:
    agent, model, catalogue = peer
    [run] = run_peer(
        agent, model.ledger, [Req("ask", "is calling a group rats allowed?")], catalogue
    )
    assert run.calls == 2 and run.grounded
    kinds = [r.kind for r in model.ledger.records[-2:]]
    assert kinds == ["tools", "tools"]  # every call carries the tool schemas
    assert run.prompt_tokens > 0


def test_recommendation_reads_the_case_searches_and_picks_an_allowed_action(
    peer: tuple[Any, CountingChatModel, Any],
) -> None:
    agent, model, catalogue = peer
    text = "what should we do with case-1001?"
    [run] = run_peer(agent, model.ledger, [Req("recommend", text, case_id="case-1001")], catalogue)
    assert run.calls == 3 and run.grounded


def test_grounding_check_rejects_an_unretrieved_citation(
    peer: tuple[Any, CountingChatModel, Any],
) -> None:
    from langchain_core.messages import AIMessage, ToolMessage

    _, _, catalogue = peer
    tool = ToolMessage(
        content="[HA-2.1] T (policy HA v3)\nallowed actions: remove\nx", tool_call_id="1"
    )
    assert _peer_grounded("ask", [tool, AIMessage(content="see [HA-2.1]")], catalogue)
    assert not _peer_grounded("ask", [tool, AIMessage(content="see [HA-9.9]")], catalogue)
