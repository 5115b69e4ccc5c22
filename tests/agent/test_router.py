"""Rules-first routing: clear free text costs no router call; the rest still goes to the model."""

from __future__ import annotations

from typing import Any

import pytest

from agent.interface import Intent, PolicyAnswer, Recommendation, WardenRequest
from agent.router import Route, accept_model_route, route_if_clear
from tests.fakes.chat import ScriptedChatModel

ANSWER = {
    "answer": "Yes, that is dehumanising [HA-2.1].",
    "cited_section_ids": ["HA-2.1"],
    "grounded": True,
}
REC = {
    "policy_id": "HA",
    "section_ids": ["HA-2.1"],
    "verdict": "violating",
    "action": "remove",
    "confidence": 0.86,
    "rationale": "Depicts a nationality as rats, a dehumanising comparison [HA-2.1].",
    "escalate": False,
}


def req(text: str) -> WardenRequest:
    return WardenRequest(thread_id="C-route:1", user_id="U-spec", text=text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Plain questions naming no case or cluster: ask.
        ("does a meme calling an ethnic group rats break HA?", Route(Intent.ASK)),
        ("is a rat meme about immigrants HA-2.1?", Route(Intent.ASK)),  # a section, not a case
        ("How does the doxxing policy treat public figures", Route(Intent.ASK)),
        ("pin selling followers, 1k for 5 bucks", Route(Intent.ASK)),  # a description
        # Explicit commands with the id written out.
        ("recommend case-1001", Route(Intent.RECOMMEND, "case-1001")),
        ("Please escalate case-1031 to the pod", Route(Intent.ESCALATE, "case-1031")),
        ("propose remove on cluster cl-spam-0093", Route(Intent.PROPOSE, None, "cl-spam-0093")),
        ("propose removing everything in case-1001", Route(Intent.PROPOSE, "case-1001")),
    ],
)
def test_clear_text_is_routed_by_rules(text: str, expected: Route) -> None:
    assert route_if_clear(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "what should we do with case-1010?",  # an id and a question: the model reads it
        "does case-1001 fall under HA-2.1?",
        "case-1007",
        "bulk remove cl-hs-0417",  # not the command form
        "recommend case-1001 and case-1002",  # two ids
        "recommend case-1001 or escalate it",  # two jobs
        "escalate cl-spam-0093",  # escalations are about cases
        "recommend cl-spam-0093",
        "escalate this please",  # no id: "this" is the last question, the model decides
        "should we escalate this?",  # a question that asks for another job
        "yes please",  # a short reply: the model decides
        "send it up",
        "recommend what to do about the rats meme",  # a command with no id
    ],
)
def test_unclear_text_is_left_to_the_model(text: str) -> None:
    assert route_if_clear(text) is None


def test_model_route_never_widens_ids() -> None:
    # A router that names a case the specialist never wrote is overruled by the rules.
    route = accept_model_route(
        "what should we do with the rats meme?", "propose", "case-1002", None
    )
    assert route.intent is Intent.ASK and route.case_id is None


def test_free_text_question_costs_one_model_call(make_warden: Any) -> None:
    model = ScriptedChatModel().enqueue(ANSWER)
    out = make_warden(model).handle(req("does a meme calling an ethnic group rats break HA?"))
    assert isinstance(out, PolicyAnswer) and out.mode == "llm", out
    assert out.usage.model_calls == 1 and len(model.calls) == 1
    assert model.remaining == 0


def test_free_text_command_costs_one_model_call(make_warden: Any) -> None:
    model = ScriptedChatModel().enqueue(REC)
    out = make_warden(model).handle(req("recommend case-1001"))
    assert isinstance(out, Recommendation) and out.case_id == "case-1001", out
    assert out.usage.model_calls == 1 and len(model.calls) == 1


def test_unclear_free_text_still_asks_the_router(make_warden: Any) -> None:
    model = ScriptedChatModel().enqueue({"intent": "recommend", "case_id": "case-1001"}, REC)
    out = make_warden(model).handle(req("what should we do with case-1001?"))
    assert isinstance(out, Recommendation) and out.case_id == "case-1001", out
    assert out.usage.model_calls == 2 and len(model.calls) == 2


def test_router_model_cannot_invent_an_id(make_warden: Any) -> None:
    # Unclear to the rules, so the model routes; its invented case id is refused.
    model = ScriptedChatModel().enqueue({"intent": "recommend", "case_id": "case-1002"}, ANSWER)
    out = make_warden(model).handle(req("rats meme, HA"))
    assert isinstance(out, PolicyAnswer), out
    assert len(model.calls) == 2
