"""Strict structured output: a JSON schema built per call from what the prompt allows."""

from __future__ import annotations

from typing import Any

from agent.interface import Intent, Recommendation, WardenRequest
from agent.schemas import answer_schema, recommendation_schema, route_schema
from tests.fakes.chat import ScriptedChatModel


def test_schemas_are_strict_shaped() -> None:
    for schema in (route_schema(), answer_schema(["HA-2.1"]), recommendation_schema([], [])):
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == set(schema["properties"])
    rec = recommendation_schema(["HA-2.1", "HA-3.2"], ["remove", "label", "remove"])
    assert rec["properties"]["section_ids"]["items"]["enum"] == ["HA-2.1", "HA-3.2"]
    assert rec["properties"]["action"]["anyOf"][0]["enum"] == ["label", "remove"]
    assert rec["properties"]["verdict"]["enum"] == ["violating", "not_violating", "borderline"]


def test_recommendation_call_sends_the_per_prompt_schema(make_warden: Any, catalogue: Any) -> None:
    reply = {
        "policy_id": "HA",
        "section_ids": ["HA-2.1"],
        "verdict": "violating",
        "action": "remove",
        "confidence": 0.8,
        "rationale": "Rats comparison [HA-2.1].",
        "escalate": False,
    }
    model = ScriptedChatModel().enqueue(reply)
    out = make_warden(model).handle(
        WardenRequest(thread_id="t-s", user_id="U", intent=Intent.RECOMMEND, case_id="case-1001")
    )
    assert isinstance(out, Recommendation) and out.mode == "llm"
    [bound] = [b for b in model.bound if "structured_output" in b]
    fmt = bound["structured_output"]
    assert fmt["strict"] is True and fmt["name"] == "recommendation"
    ids = fmt["schema"]["properties"]["section_ids"]["items"]["enum"]
    prompt = str(model.calls[0][-1].content)
    assert all(f"[{sid}]" in prompt for sid in ids) and "HA-3.2" in ids
    actions = set(fmt["schema"]["properties"]["action"]["anyOf"][0]["enum"])
    known = {s.id for p in ("HA",) for s in catalogue.sections_of(p)}
    allowed = {a.value for sid in ids if sid in known for a in catalogue.allowed_actions(sid)}
    assert actions == allowed
