"""Logging: JSON lines when WARDEN_LOG_FORMAT=json, plain text otherwise.

A JSON line carries the time, level, logger and message, plus the request's context (request
id, thread, case id, intent, latency, ...) set with `log_context` or passed as `extra`. Only the
fields in `FIELDS` are ever written, so content under review cannot ride along in a structured
field; and token-shaped strings (Slack, OpenAI keys) are masked in every message, whichever format.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

# The structured fields a log line may carry: identifiers and measurements, never content.
FIELDS = (
    "request_id",
    "kind",
    "thread",
    "case_id",
    "proposal_id",
    "escalation_id",
    "intent",
    "outcome",
    "job",
    "latency_ms",
)
_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "warden_log_context", default=None
)
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
_SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-[A-Za-z0-9_-]{8,})")


def redact(text: str) -> str:
    """Mask anything shaped like a Slack or OpenAI token."""
    return _SECRET.sub(lambda m: m.group(0)[:5] + "[redacted]", text)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields to every log line written inside the block (in this thread or task)."""
    given = {k: v for k, v in fields.items() if v is not None}
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **given})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_CONTEXT.get() or {})


class RedactingFormatter(logging.Formatter):
    """The plain format, with tokens masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the allowed context fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        context = _CONTEXT.get() or {}
        for name in FIELDS:
            # `extra` fields win over the context; LogRecord's own attributes (its `thread` is
            # the OS thread id) never stand in for one.
            value = record.__dict__.get(name) if name not in _RECORD_ATTRIBUTES else None
            value = context.get(name) if value is None else value
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str = "WARNING", fmt: str | None = None) -> None:
    """Set up the root logger once per process (the `warden` command calls it)."""
    handler = logging.StreamHandler()
    if (fmt or "").lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter(logging.BASIC_FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
