"""Chat model access: the ChatOpenAI factory and the one place model calls are made and counted.

Every structured call goes through `structured_call`, which keeps three promises whatever the
endpoint does: a reply cut by the token budget (`finish_reason: length`) is retried once with a
larger budget, then given up (the caller falls back); an endpoint that refuses `json_schema`
response formats (HTTP 400 naming it, or a profile that says so) is asked through tool calling
with the same per-call schema, and that is remembered for the endpoint for the life of the
process; and whatever comes back is validated here against the pydantic schema.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from agent.interface import Usage
from warden.errors import ConfigError
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
# A reasoning model spends most of its budget thinking before the short reply; the budget has
# to cover both, or the reply is cut (finish_reason "length") before it starts.
REASONING_BUDGETS = {"low": 2048, "medium": 4096, "high": 8192}
RETRY_FACTOR = 2
MAX_BUDGET = 32768
# Reasoning models by name: gpt-oss(-safeguard), the o-series, gpt-5 (not its chat variant).
REASONING_NAME = re.compile(r"^(gpt-oss|o[1-9](?![0-9])|gpt-5(?!.*chat))", re.I)
PROFILE_KEY = "warden_profile"
Output = Literal["json_schema", "tools"]


@dataclass(frozen=True)
class ModelProfile:
    """How one chat model is called: sampling, token budget and how structured output is asked."""

    reasoning: bool
    reasoning_effort: str | None
    max_tokens: int
    output: Output = "json_schema"


def parse_profile(spec: str, model: str) -> ModelProfile:
    """Read `WARDEN_LLM_PROFILE` for `model`.

    Comma-separated words: `auto` (by model name, the default), `standard` or `reasoning`;
    `effort=low|medium|high` and `budget=N` (completion tokens, reasoning included) for a
    reasoning model; `tools` for an endpoint without json_schema response formats.
    """
    kind, effort, budget, output = "auto", "medium", None, "json_schema"
    for word in (w.strip().lower() for w in spec.split(",") if w.strip()):
        key, _, value = word.partition("=")
        if key in ("auto", "standard", "reasoning") and not value:
            kind = key
        elif key == "tools" and not value:
            output = "tools"
        elif key == "effort" and value in REASONING_BUDGETS:
            effort = value
        elif key == "budget" and value.isdigit() and 64 <= int(value) <= MAX_BUDGET:
            budget = int(value)
        else:
            raise ConfigError(
                f"WARDEN_LLM_PROFILE: {word!r} is not understood; use auto|standard|reasoning, "
                f"effort=low|medium|high, budget=64..{MAX_BUDGET}, tools (comma-separated)."
            )
    reasoning = kind == "reasoning" or (kind == "auto" and bool(REASONING_NAME.match(model)))
    if reasoning:
        return ModelProfile(True, effort, budget or REASONING_BUDGETS[effort], output)  # type: ignore[arg-type]
    return ModelProfile(False, None, budget or MAX_COMPLETION_TOKENS, output)  # type: ignore[arg-type]


def profile_of(model: BaseChatModel) -> ModelProfile:
    """The profile a model was built with (`build_chat_model`), else the one its name implies."""
    meta = getattr(model, "metadata", None) or {}
    stored = meta.get(PROFILE_KEY) if isinstance(meta, dict) else None
    if isinstance(stored, dict):
        return ModelProfile(**stored)
    return parse_profile("auto", model_name(model) or "")


def build_chat_model(settings: Settings) -> BaseChatModel:
    """Build the ChatOpenAI client once, against any OpenAI-compatible endpoint.

    Reasoning models get a reasoning effort and a budget that covers the reasoning; the others
    temperature 0 (the same case, the same draft) and the short reply cap.
    """
    from langchain_openai import ChatOpenAI

    base_url, key = settings.require_llm()
    profile = parse_profile(settings.llm_profile, settings.llm_model)
    sampling: dict[str, Any] = (
        {"reasoning_effort": profile.reasoning_effort} if profile.reasoning else {"temperature": 0}
    )
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=base_url,
        api_key=key,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_completion_tokens=profile.max_tokens,
        # The profile rides on the client (and into trace metadata: it holds no secret).
        metadata={PROFILE_KEY: asdict(profile)},
        **sampling,
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
    truncated: bool = False
    """The reply was cut by the token budget, also after the retry with a larger one."""


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


def _cut_by_length(exc: BaseException | None, raw: Any) -> bool:
    """The reply stopped at the token budget (the SDK raises for it with response formats)."""
    if exc is not None:
        return type(exc).__name__ == "LengthFinishReasonError"
    meta = getattr(raw, "response_metadata", None) or {}
    return meta.get("finish_reason") == "length"


def _refuses_json_schema(exc: BaseException) -> bool:
    """An HTTP 400 that names the response format: this endpoint has no json_schema support."""
    text = str(exc).lower()
    return getattr(exc, "status_code", None) == 400 and (
        "response_format" in text or "json_schema" in text
    )


# Endpoints (base URL and model) that refused json_schema in this process: asked by tool call.
_TOOLS_ONLY: set[str] = set()
_TOOLS_LOCK = threading.Lock()


def endpoint_key(model: BaseChatModel) -> str:
    base = getattr(model, "openai_api_base", None) or type(model).__name__
    return f"{base}#{model_name(model)}"


def uses_tool_calling(model: BaseChatModel) -> bool:
    """Whether structured output is asked through a forced tool call for this model."""
    if profile_of(model).output == "tools":
        return True
    with _TOOLS_LOCK:
        return endpoint_key(model) in _TOOLS_ONLY


def _with_budget(model: BaseChatModel, tokens: int) -> BaseChatModel:
    """The same client with a larger completion budget (a shallow copy shares the connection)."""
    if "max_tokens" not in type(model).model_fields:
        return model
    return model.model_copy(update={"max_tokens": tokens})


def _budget(model: BaseChatModel) -> int:
    current = getattr(model, "max_tokens", None)
    return int(current) if isinstance(current, int) else profile_of(model).max_tokens


def structured_call(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    name: str,
    json_schema: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> Reply[T]:
    """Ask for a JSON object matching `schema`; never raises for a bad reply or a dead endpoint.

    The JSON schema is sent as a dict (not the pydantic class) so that the reply is validated
    here, by us, and an invalid reply becomes a `problem` the caller can repair or fall back on.
    `json_schema` (built per call by `agent.schemas`, enums of what this prompt allows) is sent
    with `strict: true`; without it the pydantic schema goes non-strict. A truncated reply is
    retried once with `RETRY_FACTOR` times the budget; a refused response format once by tool.
    `tags` go on the call's run (e.g. LangGraph's "nostream" for a call never shown as tokens).
    """
    tools = uses_tool_calling(model)
    reply, refused = _call(
        model, schema, messages, name=name, json_schema=json_schema, tools=tools, tags=tags
    )
    if refused and not tools:
        with _TOOLS_LOCK:
            _TOOLS_ONLY.add(endpoint_key(model))
        log.warning(
            "%s refuses json_schema response formats; using tool calling", model_name(model)
        )
        spent = reply.usage
        reply, _ = _call(
            model, schema, messages, name=name, json_schema=json_schema, tools=True, tags=tags
        )
        reply.usage = add_usage(spent, reply.usage)
        tools = True
    if reply.truncated:
        budget = min(MAX_BUDGET, RETRY_FACTOR * _budget(model))
        log.warning("model call %s was cut by length; retrying with %d tokens", name, budget)
        spent = reply.usage
        reply, _ = _call(
            _with_budget(model, budget),
            schema,
            messages,
            name=name,
            json_schema=json_schema,
            tools=tools,
            tags=tags,
        )
        reply.usage = add_usage(spent, reply.usage)
        if reply.truncated:
            reply.problem = f"the reply was cut by the token budget twice (last {budget} tokens)"
    return reply


def _call(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    name: str,
    json_schema: dict[str, Any] | None,
    tools: bool,
    tags: list[str] | None = None,
) -> tuple[Reply[T], bool]:
    """One model call; also says whether the endpoint refused the json_schema response format."""
    body = json_schema if json_schema is not None else schema.model_json_schema()
    if tools:
        # The same per-call schema as the function's parameters; the tool call is forced.
        function = {
            "name": name,
            "description": f"Return the {name} as this function's arguments.",
            "parameters": body,
        }
        runnable = model.with_structured_output(
            function, method="function_calling", include_raw=True
        )
    else:
        response_format = {"name": name, "schema": body, "strict": json_schema is not None}
        runnable = model.with_structured_output(
            response_format, method="json_schema", include_raw=True
        )
    if tags:
        runnable = runnable.with_config(tags=tags)
    labels = {"job": name, "model": model_label(model_name(model))}
    started = time.perf_counter()
    try:
        out = runnable.invoke(messages)
    except Exception as exc:  # the model boundary: degrade, never crash the request
        truncated = _cut_by_length(exc, None)
        unavailable = _is_unavailable(exc) and not truncated
        log.warning("model call %s failed (%s): %s", name, type(exc).__name__, exc)
        MODEL_SECONDS.labels(**labels).observe(time.perf_counter() - started)
        outcome = "truncated" if truncated else "unavailable" if unavailable else "error"
        MODEL_CALLS.labels(**labels, outcome=outcome).inc()
        failed: Reply[T] = Reply(
            parsed=None,
            problem=f"{type(exc).__name__}: {str(exc)[:200]}",
            unavailable=unavailable,
            usage=Usage(model_calls=1),
            truncated=truncated,
        )
        return failed, not tools and _refuses_json_schema(exc)
    raw = out.get("raw") if isinstance(out, dict) else None
    usage = _usage_of(raw)
    MODEL_SECONDS.labels(**labels).observe(time.perf_counter() - started)
    truncated = _cut_by_length(None, raw)
    MODEL_CALLS.labels(**labels, outcome="truncated" if truncated else "answered").inc()
    MODEL_TOKENS.labels(**labels, direction="prompt").inc(usage.prompt_tokens)
    MODEL_TOKENS.labels(**labels, direction="completion").inc(usage.completion_tokens)
    raw_text = str(getattr(raw, "content", "") or "")
    if truncated:
        problem = f"the reply was cut at the token budget ({usage.completion_tokens} tokens)"
        return Reply(None, problem, False, raw_text, usage, truncated=True), False
    return _parsed(schema, out, raw, raw_text, usage, name=name), False


def _parsed(
    schema: type[T], out: Any, raw: Any, raw_text: str, usage: Usage, *, name: str
) -> Reply[T]:
    """Validate what came back (a JSON body or the named tool call's arguments)."""
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
