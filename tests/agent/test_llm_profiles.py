"""Model profiles, the length-cut retry and the tool-calling fallback (ChatOpenAI on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agent import llm
from agent.drafts import AnswerDraft
from agent.interface import Intent, PolicyAnswer, Recommendation, WardenRequest
from agent.schemas import answer_schema
from tests.fakes.chat import ScriptedChatModel
from tests.fakes.openai_server import OpenAIStandIn, Reply
from warden.errors import ConfigError
from warden.settings import Settings

ANSWER = {
    "answer": "Dehumanising comparisons are not allowed [HA-2.1].",
    "cited_section_ids": ["HA-2.1"],
    "grounded": True,
}


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_endpoint_memory() -> Iterator[None]:
    llm._TOOLS_ONLY.clear()
    yield
    llm._TOOLS_ONLY.clear()


def chat_model(server: OpenAIStandIn, model: str = "stand-in-1", profile: str = "auto") -> Any:
    settings = Settings(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-test",
        WARDEN_LLM_MODEL=model,
        WARDEN_LLM_MAX_RETRIES=0,
        WARDEN_LLM_PROFILE=profile,
    )
    return llm.build_chat_model(settings)


def ask(model: Any) -> llm.Reply[AnswerDraft]:
    return llm.structured_call(
        model,
        AnswerDraft,
        [HumanMessage("is it allowed?")],
        name="policy_answer",
        json_schema=answer_schema(["HA-2.1"]),
    )


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("gpt-oss-safeguard-20b", True),
        ("gpt-oss-120b", True),
        ("o3-mini", True),
        ("o4-mini", True),
        ("gpt-4o-mini", False),
        ("llama-3.1-8b-instruct", False),
        ("omni-moderation", False),
    ],
)
def test_profile_by_model_name(model: str, reasoning: bool) -> None:
    profile = llm.parse_profile("auto", model)
    assert profile.reasoning is reasoning
    if reasoning:
        assert profile.reasoning_effort == "medium"
        assert profile.max_tokens > llm.MAX_COMPLETION_TOKENS  # the budget covers reasoning
    else:
        assert profile.reasoning_effort is None and profile.max_tokens == llm.MAX_COMPLETION_TOKENS


def test_profile_setting_overrides_the_name() -> None:
    forced = llm.parse_profile("reasoning, effort=high, budget=12000, tools", "my-local-model")
    assert forced == llm.ModelProfile(True, "high", 12000, "tools")
    assert not llm.parse_profile("standard", "o3").reasoning
    with pytest.raises(ConfigError, match="WARDEN_LLM_PROFILE"):
        llm.parse_profile("effort=extreme", "o3")


def test_reasoning_model_request_carries_effort_and_budget(standin: OpenAIStandIn) -> None:
    standin.enqueue(Reply(json_body=ANSWER), Reply(json_body=ANSWER))
    assert ask(chat_model(standin, "gpt-oss-safeguard-20b")).parsed is not None
    assert ask(chat_model(standin, "gpt-4o-mini")).parsed is not None
    reasoning, standard = standin.requests
    assert reasoning["reasoning_effort"] == "medium"
    assert reasoning["max_completion_tokens"] == llm.REASONING_BUDGETS["medium"]
    assert "temperature" not in reasoning
    assert standard["temperature"] == 0 and "reasoning_effort" not in standard
    assert standard["max_completion_tokens"] == llm.MAX_COMPLETION_TOKENS


def test_a_reply_cut_by_length_is_retried_once_with_a_larger_budget(
    standin: OpenAIStandIn,
) -> None:
    standin.enqueue(
        Reply(content='{"answer": "Dehumanising compar', finish_reason="length"),
        Reply(json_body=ANSWER),
    )
    reply = ask(chat_model(standin))
    assert reply.parsed is not None and reply.parsed.cited_section_ids == ["HA-2.1"]
    first, second = standin.requests
    assert second["max_completion_tokens"] == llm.RETRY_FACTOR * first["max_completion_tokens"]
    assert reply.usage.model_calls == 2


def test_cut_twice_falls_back_to_excerpts(standin: OpenAIStandIn, make_warden: Any) -> None:
    cut = Reply(content='{"answer": "Dehum', finish_reason="length")
    standin.enqueue(cut, cut)
    out = make_warden(chat_model(standin)).handle(
        WardenRequest(thread_id="t-len", user_id="U1", intent=Intent.ASK, text="is doxxing ok?")
    )
    assert isinstance(out, PolicyAnswer) and out.mode == "excerpts"
    assert "could not be used" in out.text
    assert len(standin.requests) == 2  # one retry, no more


def test_cut_twice_recommendation_falls_back_to_rules_without_a_repair(
    make_warden: Any,
) -> None:
    cut = AIMessage(
        content='{"policy_id": "HA", "sec', response_metadata={"finish_reason": "length"}
    )
    model = ScriptedChatModel(max_tokens=700).enqueue(cut, cut)
    out = make_warden(model).handle(
        WardenRequest(
            thread_id="t-len2", user_id="U1", intent=Intent.RECOMMEND, case_id="case-1001"
        )
    )
    assert isinstance(out, Recommendation) and out.mode == "rules"
    assert "token budget" in (out.note or "")
    assert model.budgets == [700, 1400] and model.remaining == 0


def test_endpoint_without_json_schema_falls_back_to_tool_calling_and_remembers(
    standin: OpenAIStandIn,
) -> None:
    standin.enqueue(
        Reply(status=400, error="Unsupported parameter: 'response_format' of type json_schema"),
        Reply(tool_calls=[{"name": "policy_answer", "args": ANSWER}]),
        Reply(tool_calls=[{"name": "policy_answer", "args": ANSWER}]),
    )
    model = chat_model(standin)
    first = ask(model)
    assert first.parsed is not None and first.usage.model_calls == 2
    second = ask(chat_model(standin))  # a new client for the same endpoint: remembered
    assert second.parsed is not None and second.usage.model_calls == 1
    refused, by_tool, remembered = standin.requests
    assert refused["response_format"]["type"] == "json_schema"
    for request in (by_tool, remembered):
        assert "response_format" not in request
        [tool] = request["tools"]
        assert tool["function"]["name"] == "policy_answer"
        # The function's parameters are the same per-call schema (enum of given sections).
        params = tool["function"]["parameters"]
        assert params["properties"]["cited_section_ids"]["items"]["enum"] == ["HA-2.1"]
        assert request["tool_choice"]["function"]["name"] == "policy_answer"


def test_tool_reply_is_still_validated(standin: OpenAIStandIn) -> None:
    standin.enqueue(Reply(tool_calls=[{"name": "policy_answer", "args": {"answer": 3}}]))
    reply = ask(chat_model(standin, profile="tools"))
    assert reply.parsed is None and reply.problem and "answer" in reply.problem
    assert "tools" in standin.requests[0]


def test_other_http_400_is_not_taken_for_a_missing_feature(standin: OpenAIStandIn) -> None:
    standin.enqueue(Reply(status=400, error="messages: too long"))
    reply = ask(chat_model(standin))
    assert reply.parsed is None and len(standin.requests) == 1
    assert not llm.uses_tool_calling(chat_model(standin))
