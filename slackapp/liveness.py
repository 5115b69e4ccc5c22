"""A sign of life within a second: the assistant status line in the thread, else a reaction.

`assistant.threads.setStatus` shows "Warden is looking through the policies…" under the thread
(Slack allows it with chat:write in channel threads too); where it is refused, an :eyes:
reaction on the person's message says the same. It runs in the pool's quick lane, so it never
waits behind answers being written.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
STATUS = "is looking through the policies…"


def show_working(
    client: Any,
    *,
    channel: str,
    thread_ts: str,
    message_ts: str | None = None,
    set_status: Any = None,
) -> str | None:
    """Show that Warden is on it; returns how ("status", "reaction") or None."""
    try:
        if set_status is not None:
            set_status(STATUS)
        else:
            client.assistant_threads_setStatus(
                channel_id=channel, thread_ts=thread_ts, status=STATUS
            )
        return "status"
    except Exception as exc:
        log.info("status line refused in %s (%s); reacting instead", channel, exc)
    if message_ts is None:
        return None
    try:
        client.reactions_add(channel=channel, timestamp=message_ts, name="eyes")
        return "reaction"
    except Exception as exc:
        log.warning("no sign of life possible in %s: %s", channel, exc)
        return None
