"""LangSmith tracing when a team turns it on, with the content under review redacted.

Invariant: unless `WARDEN_TRACE_CONTENT=true`, no content under review leaves the process in a
trace. Every run's inputs and outputs pass through `redact` (the langsmith client's
`hide_inputs` / `hide_outputs` hooks) before they are sent: the inside of every untrusted block
(`agent.untrusted.mark_untrusted`, the only way such content enters a prompt) and the case text
carried as a conversation's subject are replaced by their length. Policy text, section ids,
verdicts and the run metadata (intent, prompt version, model, case id; never secrets) stay.

LangSmith is switched on by its own variables (`LANGSMITH_TRACING=true`, `LANGSMITH_API_KEY`,
`LANGSMITH_ENDPOINT`, `LANGSMITH_PROJECT`); the tracer built here is passed with every graph
run, so LangChain does not add its default (unredacted) one beside it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.callbacks import BaseCallbackHandler

    from warden.settings import Settings

_BLOCK = re.compile(
    r"(<<<UNTRUSTED-(?P<b>[0-9a-f]+)[^>\n]*>>>\n)(?P<body>.*?)(\n<<<END-UNTRUSTED-(?P=b)>>>)",
    re.S,
)
# State fields that hold a case's content outside a marked block (agent.memory.Subject).
_SUBJECT_CONTENT = ("text", "recent")


def _redact_text(text: str) -> str:
    return _BLOCK.sub(
        lambda m: (
            f"{m.group(1)}[content under review redacted: {len(m.group('body'))} chars]{m.group(4)}"
        ),
        text,
    )


def _redact_subject(subject: dict[str, Any]) -> dict[str, Any]:
    if not subject.get("case_id"):
        return {k: redact(v) for k, v in subject.items()}
    return {
        k: "[content under review redacted]" if k in _SUBJECT_CONTENT and v else redact(v)
        for k, v in subject.items()
    }


def redact(value: Any) -> Any:
    """A copy of `value` (a run's inputs or outputs) without the content under review."""
    if isinstance(value, str):
        return _redact_text(value) if "<<<UNTRUSTED-" in value else value
    if isinstance(value, dict):
        return {
            k: _redact_subject(v) if k == "subject" and isinstance(v, dict) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    content = getattr(value, "content", None)
    if isinstance(content, str | list) and hasattr(value, "model_copy"):
        return value.model_copy(update={"content": redact(content)})  # a message object
    return value


def build_tracer(settings: Settings) -> BaseCallbackHandler | None:
    """The LangSmith tracer, when LangSmith's own variables turn tracing on; else None."""
    from langsmith.utils import tracing_is_enabled

    if not tracing_is_enabled():
        return None
    from langchain_core.tracers.langchain import LangChainTracer
    from langsmith import Client

    hook = None if settings.trace_content else redact
    return LangChainTracer(client=Client(hide_inputs=hook, hide_outputs=hook))


def flush(tracer: BaseCallbackHandler | None) -> None:
    """Send what the tracer still holds (at shutdown, and in tests)."""
    if tracer is None:
        return
    wait = getattr(tracer, "wait_for_futures", None)
    if wait is not None:
        wait()
    client = getattr(tracer, "client", None)
    if client is not None:
        client.flush()
