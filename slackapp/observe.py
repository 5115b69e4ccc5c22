"""Every Slack request counted, timed to its ack and logged, in HTTP and Socket Mode alike.

Bolt runs its middleware as a loop, not nested, so nothing inside it sees when the ack is sent;
both transports call `App.dispatch` and send its response as the ack, so wrapping `dispatch` times
exactly that. The request kind is a closed vocabulary (events Warden subscribes to, interaction
types), so a signed request with an odd type cannot mint new metric series.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from warden.logs import log_context
from warden.metrics import SLACK_ACK_SECONDS, SLACK_ACKS, SLACK_REQUESTS

log = logging.getLogger(__name__)

EVENTS = {
    "app_home_opened",
    "app_mention",
    "assistant_thread_context_changed",
    "assistant_thread_started",
    "message",
}
INTERACTIONS = {
    "block_actions",
    "block_suggestion",
    "message_action",
    "shortcut",
    "view_closed",
    "view_submission",
}


def request_kind(body: Any) -> str:
    """`event:<type>`, `command`, an interaction type, or `other`."""
    if not isinstance(body, dict):
        return "other"
    if body.get("command"):
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        event_type = event.get("type") if isinstance(event, dict) else None
        return f"event:{event_type}" if event_type in EVENTS else "event:other"
    if kind in INTERACTIONS:
        return str(kind)
    if kind == "url_verification":
        return "url_verification"
    return "other"


def instrument(bolt: Any) -> None:
    """Wrap the app's `dispatch` to count, time and log each request up to its ack."""
    inner = bolt.dispatch

    def dispatch(request: Any) -> Any:
        kind = request_kind(getattr(request, "body", None))
        SLACK_REQUESTS.labels(kind=kind).inc()
        started = time.perf_counter()
        with log_context(request_id=uuid.uuid4().hex[:16], kind=kind):
            outcome = "error"
            try:
                response = inner(request)
                outcome = "ok" if int(getattr(response, "status", 500)) < 400 else "error"
                return response
            finally:
                elapsed = time.perf_counter() - started
                SLACK_ACK_SECONDS.labels(kind=kind).observe(elapsed)
                SLACK_ACKS.labels(kind=kind, outcome=outcome).inc()
                log.info(
                    "slack request acked",
                    extra={"outcome": outcome, "latency_ms": round(elapsed * 1000, 1)},
                )

    bolt.dispatch = dispatch
