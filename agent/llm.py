"""Chat model access: the ChatOpenAI factory and the one place model calls are made and counted."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from agent.interface import Usage
from warden.metrics import MODEL_CALLS, MODEL_SECONDS, MODEL_TOKENS, model_label

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from warden.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
# Replies are short by design (answers <= 120 words, recommendations <= 80-word rationale);
# a cap keeps a runaway model from burning tokens and time.
MAX_COMPLETION_TOKENS = 700


def build_chat_model(settings: Settings) -> BaseChatModel:
    """Build the ChatOpenAI client once, against any OpenAI-compatible endpoint."""
    from langchain_openai import ChatOpenAI

    base_url, key = settings.require_llm()
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=base_url,
        api_key=key,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_completion_tokens=MAX_COMPLETION_TOKENS,
    )


def model_name(model: BaseChatModel | None) -> str | None:
    """The model's name as recorded in audit and usage (None in no-LLM mode)."""
    if model is None:
        return None
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str):
            return value
    return type(model).__name__


@dataclass
class Reply(Generic[T]):
    """One structured model call: the parsed value or why it failed, and what it cost."""

    parsed: T | None
    problem: str | None = None
    unavailable: bool = False
    raw_text: str = ""
    usage: Usage = field(default_factory=Usage)


def add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(
        model_calls=a.model_calls + b.model_calls,
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
    )


def _usage_of(raw: Any) -> Usage:
    meta = getattr(raw, "usage_metadata", None) or {}
    return Usage(
        model_calls=1,
        prompt_tokens=int(meta.get("input_tokens", 0)),
        completion_tokens=int(meta.get("output_tokens", 0)),
    )


def _is_unavailable(exc: BaseException) -> bool:
    """True when the endpoint failed (timeout, connection, 5xx, auth) rather than the reply."""
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        return isinstance(exc, TimeoutError | ConnectionError)
    if isinstance(exc, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
        return False
    return isinstance(exc, openai.APIError | TimeoutError | ConnectionError)


def structured_call(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    name: str,
    json_schema: dict[str, Any] | None = None,
) -> Reply[T]:
    """Ask for a JSON object matching `schema`; never raises for a bad reply or a dead endpoint.

    The JSON schema is sent as a dict (not the pydantic class) so that the reply is validated
    here, by us, and an invalid reply becomes a `problem` the caller can repair or fall back on.
    `json_schema` (built per call by `agent.schemas`, enums of what this prompt allows) is sent
    with `strict: true`; without it the pydantic schema goes non-strict.
    """
    response_format = (
        {"name": name, "schema": json_schema, "strict": True}
        if json_schema is not None
        else {"name": name, "schema": schema.model_json_schema(), "strict": False}
    )
    runnable = model.with_structured_output(response_format, method="json_schema", include_raw=True)
    labels = {"job": name, "model": model_label(model_name(model))}
    started = time.perf_counter()
    try:
        out = runnable.invoke(messages)
    except Exception as exc:  # the model boundary: degrade, never crash the request
        unavailable = _is_unavailable(exc)
        log.warning("model call %s failed (%s): %s", name, type(exc).__name__, exc)
        MODEL_SECONDS.labels(**labels).observe(time.perf_counter() - started)
        MODEL_CALLS.labels(**labels, outcome="unavailable" if unavailable else "error").inc()
        return Reply(
            parsed=None,
            problem=f"{type(exc).__name__}: {str(exc)[:200]}",
            unavailable=unavailable,
            usage=Usage(model_calls=1),
        )
    raw = out.get("raw") if isinstance(out, dict) else None
    usage = _usage_of(raw)
    MODEL_SECONDS.labels(**labels).observe(time.perf_counter() - started)
    MODEL_CALLS.labels(**labels, outcome="answered").inc()
    MODEL_TOKENS.labels(**labels, direction="prompt").inc(usage.prompt_tokens)
    MODEL_TOKENS.labels(**labels, direction="completion").inc(usage.completion_tokens)
    raw_text = str(getattr(raw, "content", "") or "")
    if raw is not None and getattr(raw, "tool_calls", None):
        # Some OpenAI-compatible servers answer structured output with a tool call; only a call
        # named after the schema counts. Any other tool is refused, never read as data.
        call = raw.tool_calls[0]
        if call["name"] != name:
            problem = f"the reply called tool {call['name']!r}; only {name!r} is accepted"
            return Reply(None, problem, False, raw_text, usage)
        out = {"raw": raw, "parsed": call["args"], "parsing_error": None}
    if isinstance(out, dict) and out.get("parsing_error") is not None:
        return Reply(
            None, f"reply is not valid JSON: {out['parsing_error']}"[:300], False, raw_text, usage
        )
    data = out.get("parsed") if isinstance(out, dict) else out
    if isinstance(data, BaseModel):
        data = data.model_dump()
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            return Reply(None, f"reply is not valid JSON: {exc}", False, raw_text, usage)
    try:
        return Reply(schema.model_validate(data), None, False, raw_text, usage)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        return Reply(None, problems, False, raw_text, usage)
