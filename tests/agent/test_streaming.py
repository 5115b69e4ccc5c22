"""`Warden.handle(on_token=...)` streams model tokens; every response names prompts and model."""

from __future__ import annotations

from typing import Any

from agent.interface import Intent, PolicyAnswer, Recommendation, WardenRequest
from agent.prompts import PROMPT_VERSION
from tests.fakes.chat import ScriptedChatModel


def req(**kw: Any) -> WardenRequest:
    return WardenRequest(thread_id="t-stream", user_id="U-spec", **kw)


def test_tokens_reach_the_callback_in_llm_mode(make_warden: Any) -> None:
    reply = {
        "answer": "Comparing a group to rats is dehumanising [HA-2.1].",
        "cited_section_ids": ["HA-2.1"],
        "grounded": True,
    }
    model = ScriptedChatModel().enqueue(reply)
    tokens: list[str] = []
    out = make_warden(model).handle(
        req(intent=Intent.ASK, text="Is a meme comparing a group to rats allowed?"),
        on_token=tokens.append,
    )
    assert isinstance(out, PolicyAnswer) and out.mode == "llm"
    assert "dehumanising" in "".join(tokens)
    assert out.prompt_version == PROMPT_VERSION and out.model == "scripted"


def test_no_tokens_and_no_model_in_no_llm_mode(make_warden: Any) -> None:
    tokens: list[str] = []
    out = make_warden().handle(
        req(intent=Intent.RECOMMEND, case_id="case-1001"), on_token=tokens.append
    )
    assert isinstance(out, Recommendation) and out.mode == "rules"
    assert tokens == []
    assert out.prompt_version == PROMPT_VERSION and out.model is None


def test_a_failing_callback_does_not_fail_the_turn(make_warden: Any) -> None:
    reply = {"answer": "Covered [HA-2.1].", "cited_section_ids": ["HA-2.1"], "grounded": True}
    model = ScriptedChatModel().enqueue(reply)

    def broken(_: str) -> None:
        raise RuntimeError("display gone")

    out = make_warden(model).handle(req(intent=Intent.ASK, text="rats meme?"), on_token=broken)
    assert isinstance(out, PolicyAnswer) and out.mode == "llm"
