"""Escalations (routed by the catalogue, never by the model) and deterministic routing."""

from __future__ import annotations

from typing import Any

import pytest

from agent.interface import EscalationOpened, Intent, PolicyAnswer, Refusal, WardenRequest
from agent.router import route_by_rules
from knowledge.vocabulary import Priority
from tests.fakes.chat import ScriptedChatModel


def req(**kw: Any) -> WardenRequest:
    return WardenRequest(thread_id="C-esc:1", user_id="U-spec", **kw)


def test_imminent_harm_case_goes_to_p0_on_call(make_warden: Any) -> None:
    out = make_warden().handle(req(intent=Intent.ESCALATE, case_id="case-1007", text="threat?"))
    assert isinstance(out, EscalationOpened), out
    esc = out.escalation
    assert esc.case_id == "case-1007" and esc.policy_id == "HA"
    assert esc.priority is Priority.P0 and esc.on_call
    assert "Case case-1007" in esc.summary and "Specialist's note: threat?" in esc.summary
    assert esc.opened_by == "U-spec"


def test_model_cannot_lower_or_raise_priority(make_warden: Any) -> None:
    # The model calls a credible threat "not violating, no escalation": routing ignores it.
    model = ScriptedChatModel().enqueue(
        {
            "section_ids": ["HA-2.5"],
            "verdict": "borderline",
            "action": None,
            "confidence": 0.2,
            "rationale": "Probably a joke [HA-2.5].",
            "escalate": False,
        }
    )
    out = make_warden(model).handle(req(intent=Intent.ESCALATE, case_id="case-1007"))
    assert isinstance(out, EscalationOpened)
    assert out.escalation.priority is Priority.P0
    assert out.usage.model_calls == 1


def test_policy_question_escalation(make_warden: Any) -> None:
    out = make_warden().handle(
        req(intent=Intent.ESCALATE, text="HA: are reclaimed slurs in band names allowed?")
    )
    assert isinstance(out, EscalationOpened), out
    assert out.escalation.policy_id == "HA" and out.escalation.case_id is None
    assert "Policy question from <@U-spec>" in out.escalation.summary


def test_bare_escalate_after_an_answer_escalates_that_question(make_warden: Any) -> None:
    warden = make_warden()
    first = warden.handle(req(text="is a meme calling immigrants vermin a HA violation?"))
    assert isinstance(first, PolicyAnswer)
    out = warden.handle(req(text="escalate"))
    assert isinstance(out, EscalationOpened), out
    assert out.escalation.policy_id == "HA"
    assert "immigrants vermin" in out.escalation.summary


def test_escalation_needs_something_to_route(make_warden: Any) -> None:
    out = make_warden().handle(req(intent=Intent.ESCALATE, text=""))
    assert isinstance(out, Refusal) and "escalate" in out.reason


def test_off_topic_question_is_low_confidence(make_warden: Any) -> None:
    out = make_warden().handle(req(text="what's the weather in Lisbon tomorrow?"))
    assert isinstance(out, PolicyAnswer)
    assert out.low_confidence and out.offer_escalation
    assert out.text.startswith("I found no policy section that clearly covers this")


@pytest.mark.parametrize(
    ("text", "intent", "case_id", "cluster_id"),
    [
        ("is a rat meme about immigrants HA-2.1?", Intent.ASK, None, None),
        ("recommend case-1001", Intent.RECOMMEND, "case-1001", None),
        ("what should we do with case-1010?", Intent.RECOMMEND, "case-1010", None),
        ("case-1007", Intent.RECOMMEND, "case-1007", None),
        ("please escalate case-1031 to the pod", Intent.ESCALATE, "case-1031", None),
        ("propose remove on cluster cl-spam-0093", Intent.PROPOSE, None, "cl-spam-0093"),
        ("bulk remove cl-hs-0417", Intent.PROPOSE, None, "cl-hs-0417"),
        ("does case-1001 fall under HA-2.1?", Intent.ASK, "case-1001", None),
    ],
)
def test_rules_router(
    text: str, intent: Intent, case_id: str | None, cluster_id: str | None
) -> None:
    route = route_by_rules(text)
    assert (route.intent, route.case_id, route.cluster_id) == (intent, case_id, cluster_id)
