"""A scripted chat model for tests: it pops prepared replies, records prompts, reports usage.

Each script item is an `AIMessage` (text, tool calls, or a JSON body for structured output), a
plain string (text), a dict (sent as the JSON body of a structured reply), or an exception
instance (raised, e.g. a timeout). Every call records the messages it received, so tests can
check what went into the prompt (untrusted-content marking) and count calls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

ScriptItem = AIMessage | str | dict[str, Any] | BaseException


class ScriptExhausted(AssertionError):
    """The code under test made more model calls than the test scripted."""


def _tokens(messages: Sequence[BaseMessage]) -> int:
    # A crude but deterministic count: whitespace-separated words of every text part.
    total = 0
    for message in messages:
        content = message.content
        if isinstance(content, str):
            total += len(content.split())
        else:
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += len(str(part.get("text", "")).split())
                elif isinstance(part, str):
                    total += len(part.split())
    return total


class ScriptedChatModel(BaseChatModel):
    """Pops one scripted reply per call; raises `ScriptExhausted` when the script runs out."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: list[Any] = Field(default_factory=list)
    model_name: str = "scripted"
    max_tokens: int | None = None
    """The completion budget; a copy with a larger one (a length retry) shares the script."""
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _bound: list[dict[str, Any]] = PrivateAttr(default_factory=list)
    _budgets: list[int | None] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages of every call so far, in order."""
        return self._calls

    @property
    def budgets(self) -> list[int | None]:
        """The completion budget of every call so far (shared with budget copies)."""
        return self._budgets

    @property
    def remaining(self) -> int:
        return len(self.script)

    @property
    def bound(self) -> list[dict[str, Any]]:
        """What the code under test bound: tools, or a structured-output schema and options."""
        with self._lock:
            return list(self._bound)

    def enqueue(self, *items: ScriptItem) -> ScriptedChatModel:
        self.script.extend(items)
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            self._calls.append(list(messages))
            self._budgets.append(self.max_tokens)
            if not self.script:
                raise ScriptExhausted(
                    f"model call #{len(self._calls)} was not scripted; prompt starts: "
                    f"{str(messages[-1].content)[:200]!r}"
                )
            item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, dict):
            item = AIMessage(content=json.dumps(item))
        elif isinstance(item, str):
            item = AIMessage(content=item)
        prompt_tokens = _tokens(messages)
        completion_tokens = max(1, len(str(item.content).split()))
        reply: AIMessage = item.model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": prompt_tokens,
                    "output_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
            }
        )
        return reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        """Accept tools like a real model; the script decides which tool calls come back."""
        self._bound.append({"tools": list(tools), "tool_choice": tool_choice})
        return self

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[Any, Any]:
        """Parse the reply's JSON body (or first tool call's args) like json_schema mode."""
        self._bound.append({"structured_output": schema, **kwargs})

        def parse(raw: AIMessage) -> Any:
            if raw.tool_calls:
                data: Any = raw.tool_calls[0]["args"]
            else:
                data = json.loads(str(raw.content))
            if isinstance(schema, type) and issubclass(schema, BaseModel):
                return schema.model_validate(data)
            return data

        def run(value: Any) -> Any:
            raw = self.invoke(value)
            assert isinstance(raw, AIMessage)
            try:
                parsed = parse(raw)
            except (ValueError, ValidationError) as exc:
                if not include_raw:
                    raise
                return {"raw": raw, "parsed": None, "parsing_error": exc}
            if include_raw:
                return {"raw": raw, "parsed": parsed, "parsing_error": None}
            return parsed

        return RunnableLambda(run)
