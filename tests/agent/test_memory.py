"""Conversations remember: follow-ups are about the thread's subject (no-LLM mode)."""

from __future__ import annotations

from typing import Any

from agent import memory
from agent.interface import EscalationOpened, Intent, PolicyAnswer, WardenRequest


def req(thread: str, text: str = "", **kw: Any) -> WardenRequest:
    return WardenRequest(thread_id=thread, user_id="U-spec", text=text, **kw)


def test_follow_up_detection() -> None:
    assert memory.is_follow_up("what if the poster says it's a joke?")
    assert memory.is_follow_up("and under GV?")
    assert not memory.is_follow_up("does a meme comparing a nationality to rats violate HA policy")


def test_follow_ups_after_a_recommendation_are_about_the_case(make_warden: Any) -> None:
    warden = make_warden()
    warden.handle(req("t-mem", intent=Intent.RECOMMEND, case_id="case-1001"))
    joke = warden.handle(req("t-mem", "what if the poster says it's a joke?"))
    assert isinstance(joke, PolicyAnswer)
    assert any(c.policy_id == "HA" for c in joke.citations)
    opened = warden.handle(req("t-mem", "escalate"))
    assert isinstance(opened, EscalationOpened)
    assert opened.escalation.case_id == "case-1001"


def test_and_under_another_policy_asks_the_same_question_there(make_warden: Any) -> None:
    warden = make_warden()
    first = warden.handle(req("t-mem2", "is a video of a street fight with injuries allowed?"))
    assert isinstance(first, PolicyAnswer)
    other = warden.handle(req("t-mem2", "and under GV?"))
    assert isinstance(other, PolicyAnswer) and other.citations
    assert {c.policy_id for c in other.citations} == {"GV"}
