"""A chat model that answers at once and counts what each call would cost, the same way for all.

Both Warden and the ReAct peer talk to this model. A *responder* function decides each reply
(a scripted policy that behaves as the real model would); the model counts prompt tokens with
OpenAI's o200k tokenizer (`bpe_openai`, tiktoken-compatible, bundled data, works offline) over
the exact messages sent plus the tool or JSON schemas attached to the call, and keeps the time
spent inside each call so it can be subtracted from the request's time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

# OpenAI's chat format adds a few tokens per message and per reply (role, separators).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import bpe_openai  # type: ignore[import-untyped]

    return bpe_openai.get_encoding("o200k_base")


def count_text(text: str) -> int:
    return len(_encoding().encode(text)) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
        elif isinstance(part, dict):
            parts.append(json.dumps(part))
    return "\n".join(parts)


def count_message(message: BaseMessage) -> int:
    tokens = TOKENS_PER_MESSAGE + count_text(_content_text(message.content))
    for call in getattr(message, "tool_calls", None) or []:
        tokens += count_text(call["name"]) + count_text(json.dumps(call["args"]))
    return tokens


@dataclass
class CallInfo:
    """What came with a call besides the messages."""

    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None


@dataclass
class CallRecord:
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    kind: str  # "tools", "structured:<name>" or "text"


Responder = Callable[[list[BaseMessage], CallInfo], AIMessage]


@dataclass
class Ledger:
    """Every call's cost, in order; `mark()`/`since()` give one request's share."""

    records: list[CallRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> list[CallRecord]:
        return self.records[mark:]


class CountingChatModel(BaseChatModel):
    """Answers through `responder` immediately; records tokens and time of every call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responder: Any = Field(description="Responder: (messages, CallInfo) -> AIMessage")
    ledger: Any = Field(default_factory=Ledger)
    model_name: str = "counting-scripted"
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "counting-scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        started = time.perf_counter()
        info = CallInfo(tools=kwargs.get("tools"), response_format=kwargs.get("response_format"))
        reply: AIMessage = self.responder(list(messages), info)
        prompt = sum(count_message(m) for m in messages) + TOKENS_PER_REPLY
        if info.tools:
            prompt += count_text(json.dumps(info.tools))
        if info.response_format:
            prompt += count_text(json.dumps(info.response_format))
        completion = count_message(reply) - TOKENS_PER_MESSAGE
        kind = "text"
        if info.tools:
            kind = "tools"
        elif info.response_format:
            kind = f"structured:{info.response_format.get('name', '')}"
        reply = reply.model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": prompt,
                    "output_tokens": completion,
                    "total_tokens": prompt + completion,
                }
            }
        )
        with self._lock:
            self.ledger.records.append(
                CallRecord(prompt, completion, time.perf_counter() - started, kind)
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        """Send the tools' OpenAI schemas with every call, as a real endpoint receives them."""
        schemas = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=schemas, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[Any, Any]:
        """json_schema mode: the schema goes with the call; the reply's JSON is parsed."""
        if isinstance(schema, dict):
            response_format = schema
        else:
            response_format = {"name": schema.__name__, "schema": schema.model_json_schema()}  # type: ignore[attr-defined]
        bound = self.bind(response_format=response_format)

        def run(value: Any) -> Any:
            raw = bound.invoke(value)
            try:
                parsed: Any = json.loads(str(raw.content))
                error = None
            except ValueError as exc:
                parsed, error = None, exc
            if include_raw:
                return {"raw": raw, "parsed": parsed, "parsing_error": error}
            if error is not None:
                raise error
            return parsed

        return RunnableLambda(run)
