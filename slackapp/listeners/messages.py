"""Replies and edits in threads Warden is part of: they reach Warden without a mention.

A reply in a channel thread where Warden has answered is a follow-up (the same thread id goes
to the agent; "escalate" escalates the thread's subject). An edited question in such a thread
(or a DM) is answered again; a deleted one is left alone. Messages that mention Warden come
as `app_mention` too and are answered there, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slackapp.listeners.conversations import answer_text, working
from slackapp.runtime import Runtime
from slackapp.threads import subject_of

if TYPE_CHECKING:
    from slack_bolt import App

THREAD_CHANNELS = ("channel", "group")  # message.channels, message.groups


def _bot(body: dict[str, Any]) -> str | None:
    for auth in body.get("authorizations") or []:
        if auth.get("is_bot") and auth.get("user_id"):
            return str(auth["user_id"])
    return None


def _by_a_person(message: dict[str, Any]) -> bool:
    return bool(message.get("user")) and not message.get("bot_id")


def is_thread_reply(event: dict[str, Any], body: dict[str, Any]) -> bool:
    """A person's reply in a channel thread, not addressed to Warden by mention."""
    bot = _bot(body)
    return (
        event.get("channel_type") in THREAD_CHANNELS
        and event.get("subtype") in (None, "thread_broadcast")
        and _by_a_person(event)
        and bool(event.get("thread_ts"))
        and event.get("thread_ts") != event.get("ts")
        and not (bot and f"<@{bot}>" in (event.get("text") or ""))
    )


def is_edit(event: dict[str, Any]) -> bool:
    """A person edited the text of a message (not a link unfurl or a reaction count)."""
    message = event.get("message") or {}
    before = event.get("previous_message") or {}
    return (
        event.get("subtype") == "message_changed"
        and _by_a_person(message)
        and bool(message.get("text"))
        and message.get("text") != before.get("text")
    )


def follow_up(
    rt: Runtime, client: Any, *, text: str, user: str, channel: str, thread_ts: str, ts: str
) -> None:
    """Answer a message in a thread only if Warden is part of that thread."""
    subject = subject_of(rt, channel=channel, thread_ts=thread_ts)
    if subject is None:
        return
    working(rt, client, channel=channel, thread_ts=thread_ts, message_ts=ts)
    answer_text(
        rt,
        client,
        text=text,
        user=user,
        channel=channel,
        thread_ts=thread_ts,
        subject=subject,
    )


def register(app: App, rt: Runtime) -> None:
    @app.event("message", matchers=[lambda event, body: is_thread_reply(event, body)])
    def thread_reply(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        rt.pool.submit(
            "thread reply",
            follow_up,
            rt,
            client,
            text=event.get("text") or "",
            user=event["user"],
            channel=event["channel"],
            thread_ts=event["thread_ts"],
            ts=event["ts"],
            first_delivery=rt.once(body),
        )

    @app.event("message", matchers=[lambda event: is_edit(event)])
    def edited(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        message = event["message"]
        rt.pool.submit(
            "edited question",
            follow_up,
            rt,
            client,
            text=message.get("text") or "",
            user=message["user"],
            channel=event["channel"],
            thread_ts=message.get("thread_ts") or message["ts"],
            ts=message["ts"],
            first_delivery=rt.once(body),
        )
