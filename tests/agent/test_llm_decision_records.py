"""PROMPT_VERSION and the model on decision records (proposals, escalations) a model drafted."""

from __future__ import annotations

from typing import Any

from agent.interface import EscalationOpened, Intent, ProposalPending, WardenRequest
from agent.prompts import PROMPT_VERSION
from tests.fakes.chat import ScriptedChatModel
from tools import audit

REC = {
    "policy_id": "HA",
    "section_ids": ["HA-2.1"],
    "verdict": "violating",
    "action": "remove",
    "confidence": 0.8,
    "rationale": "A dehumanising comparison [HA-2.1].",
    "escalate": False,
}


def req(thread: str, **kw: Any) -> WardenRequest:
    return WardenRequest(thread_id=thread, user_id="U-spec", case_id="case-1001", **kw)


def recorded(store: Any) -> list[Any]:
    return [e for e in audit.events(store) if e.verb.startswith(("proposal.create", "escalation"))]


def test_model_drafted_records_carry_the_prompt_version(
    make_warden: Any, sample_store: Any
) -> None:
    model = ScriptedChatModel().enqueue(REC, REC)
    warden = make_warden(model)
    assert isinstance(warden.handle(req("t-d1", intent=Intent.PROPOSE)), ProposalPending)
    assert isinstance(warden.handle(req("t-d2", intent=Intent.ESCALATE)), EscalationOpened)
    events = recorded(sample_store)
    assert {e.verb.split(".")[0] for e in events} == {"proposal", "escalation"}
    assert all(e.prompt_id == f"recommend@{PROMPT_VERSION}" for e in events), events
    assert all(e.model == "scripted" for e in events)


def test_a_rules_fallback_is_not_recorded_as_the_model_s(
    make_warden: Any, sample_store: Any
) -> None:
    model = ScriptedChatModel().enqueue("not json", "still not json")
    out = make_warden(model).handle(req("t-d3", intent=Intent.ESCALATE))
    assert isinstance(out, EscalationOpened)
    events = recorded(sample_store)
    assert events and all(e.prompt_id is None and e.model is None for e in events)
