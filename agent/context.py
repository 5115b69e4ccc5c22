"""Run-scoped context (LangGraph `context_schema`): what a caller supplies per invocation that is
not state, so it is never checkpointed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tools.models import FanoutProgress


@dataclass(frozen=True)
class Context:
    """Per-invocation context passed as `graph.invoke(..., context=Context(...))`."""

    progress: Callable[[FanoutProgress], None] | None = field(
        default=None, metadata={"description": "called by the fanout after each batch"}
    )
    now: datetime | None = field(
        default=None, metadata={"description": "clock override for tests (expiry); None = now"}
    )
