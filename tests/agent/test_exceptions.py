"""Exceptions are part of every decision: in the rules' draft and in the model's prompt."""

from __future__ import annotations

from typing import Any

import pytest

from agent.exceptions import framing, units
from agent.interface import Intent, Recommendation, WardenRequest
from tests.fakes.chat import ScriptedChatModel


def req(**kw: Any) -> WardenRequest:
    return WardenRequest(thread_id="t-exc", user_id="U-spec", **kw)


@pytest.mark.parametrize(
    ("case_id", "exception"),
    [
        ("case-1005", "HA-3.2"),  # condemns people who call others vermin
        ("case-1008", "HA-3.3"),  # reclaimed use
        ("case-1004", "HA-3.1"),  # museum exhibit
        ("case-1034", "VE-3.1"),  # documentary
    ],
)
def test_rules_draft_borderline_on_a_matching_exception(
    make_warden: Any, case_id: str, exception: str
) -> None:
    out = make_warden().handle(req(intent=Intent.RECOMMEND, case_id=case_id))
    assert isinstance(out, Recommendation) and out.mode == "rules"
    assert out.verdict == "borderline" and out.action is None
    assert out.section_ids == [exception]
    assert exception in {c.section_id for c in out.citations}
    assert out.strike_effects == []


@pytest.mark.parametrize("case_id", ["case-1001", "case-1003"])
def test_plain_violations_stay_violating(make_warden: Any, case_id: str) -> None:
    out = make_warden().handle(req(intent=Intent.RECOMMEND, case_id=case_id))
    assert isinstance(out, Recommendation) and out.verdict == "violating" and out.action


def test_every_exception_of_the_candidate_policy_is_in_the_prompt(make_warden: Any) -> None:
    reply = {
        "section_ids": ["HA-3.2"],
        "verdict": "not_violating",
        "action": None,
        "confidence": 0.7,
        "rationale": "The poster condemns the slur [HA-3.2].",
    }
    model = ScriptedChatModel().enqueue(reply)
    out = make_warden(model).handle(req(intent=Intent.RECOMMEND, case_id="case-1001"))
    prompt = str(model.calls[0][-1].content)
    for sid in ("HA-3.1", "HA-3.2", "HA-3.3", "HA-3.4", "HA-4"):
        assert f"[{sid}]" in prompt
    assert "[kind: exception]" in prompt
    # "not violating" grounded on an exception section is accepted, with no action.
    assert isinstance(out, Recommendation) and out.mode == "llm"
    assert out.verdict == "not_violating" and out.section_ids == ["HA-3.2"]
    assert out.action is None


def test_an_exception_never_grounds_an_action(make_warden: Any) -> None:
    bad = {
        "section_ids": ["HA-3.2"],
        "verdict": "borderline",
        "action": "remove",
        "confidence": 0.7,
        "rationale": "x",
    }
    model = ScriptedChatModel().enqueue(bad, bad)
    out = make_warden(model).handle(req(intent=Intent.RECOMMEND, case_id="case-1001"))
    assert isinstance(out, Recommendation) and out.mode == "rules"
    assert out.note and "exception section carries no action" in out.note


def test_framing_leaves_quoted_words_out() -> None:
    quoted = 'Stop calling them "vermin", it is cruel.'
    assert framing(quoted) == "Stop calling them  … , it is cruel."
    assert framing("it's fine, don't worry") == "it's fine, don't worry"


def test_units_are_sentences_and_example_lines() -> None:
    text = "First sentence is here. Second one too.\nExamples that violate:\n- An example line."
    assert units(text) == ["First sentence is here.", "Second one too.", "An example line."]
