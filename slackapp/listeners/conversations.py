"""Mentions, DMs and Slack's assistant threads: every reply goes into the thread it came from."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slackapp.blocks import error_blocks, section
from slackapp.conversation import (
    HELP,
    parse,
    post,
    request_for,
    run_request,
    thread_id_of,
)
from slackapp.escape import escape_untrusted
from slackapp.liveness import show_working
from slackapp.runtime import Runtime
from slackapp.threads import Subject, escalate_followup, subject_of

if TYPE_CHECKING:
    from slack_bolt import App
from slackapp.status import status_text
from warden.errors import InputError

log = logging.getLogger(__name__)

SUGGESTED_PROMPTS = [
    {
        "title": "Ask about a policy",
        "message": "Is a meme comparing a group of people to rats hateful?",
    },
    {"title": "Recommend on a case", "message": "recommend C-1001"},
    {"title": "What is waiting for me?", "message": "status"},
]


def handle_text(
    rt: Runtime,
    client: Any,
    *,
    text: str,
    user: str,
    channel: str,
    thread_ts: str,
) -> None:
    """Answer one message from a person (runs in the worker pool, after the ack)."""
    try:
        command = parse(text)
    except InputError as exc:
        post(
            client,
            channel=channel,
            thread_ts=thread_ts,
            text=escape_untrusted(str(exc), limit=300),
            blocks=error_blocks(str(exc)),
        )
        return
    if command.verb == "help":
        post(
            client, channel=channel, thread_ts=thread_ts, text="Warden help", blocks=[section(HELP)]
        )
        return
    if command.verb == "status":
        body = status_text(rt, user)
        post(
            client,
            channel=channel,
            thread_ts=thread_ts,
            text="Your Warden status",
            blocks=[section(body)],
        )
        return
    thread_id = thread_id_of(channel, thread_ts)
    request = request_for(command, thread_id=thread_id, user_id=user)
    run_request(rt, client, request, channel=channel, thread_ts=thread_ts, question=command.text)


def answer_text(
    rt: Runtime,
    client: Any,
    *,
    text: str,
    user: str,
    channel: str,
    thread_ts: str,
    subject: Subject | None = None,
) -> None:
    """Answer a message in a thread: "escalate" there escalates the thread's subject."""
    thread_id = thread_id_of(channel, thread_ts)
    followup = escalate_followup(
        text,
        subject or subject_of(rt, channel=channel, thread_ts=thread_ts),
        thread_id=thread_id,
        user_id=user,
    )
    if followup is not None:
        run_request(rt, client, followup, channel=channel, thread_ts=thread_ts)
        return
    handle_text(rt, client, text=text, user=user, channel=channel, thread_ts=thread_ts)


def working(
    rt: Runtime, client: Any, *, channel: str, thread_ts: str, message_ts: str | None = None
) -> None:
    """Queue the sign of life for a message (the quick lane: it never waits behind answers)."""
    rt.pool.submit(
        "sign of life",
        show_working,
        client,
        channel=channel,
        thread_ts=thread_ts,
        message_ts=message_ts,
        quick=True,
    )


def register(app: App, rt: Runtime) -> None:
    from slack_bolt import Assistant

    assistant = Assistant()

    def greet(say: Any, set_suggested_prompts: Any) -> None:
        say("Hi, I'm Warden. Ask me a policy question, or give me a case id to recommend on.")
        set_suggested_prompts(prompts=SUGGESTED_PROMPTS)

    @assistant.thread_started
    def thread_started(body: dict[str, Any], say: Any, set_suggested_prompts: Any) -> None:
        rt.pool.submit(
            "assistant greeting", greet, say, set_suggested_prompts, first_delivery=rt.once(body)
        )

    @assistant.user_message
    def assistant_message(
        body: dict[str, Any], payload: dict[str, Any], client: Any, set_status: Any
    ) -> None:
        rt.pool.submit(
            "sign of life",
            show_working,
            client,
            channel=payload["channel"],
            thread_ts=payload["thread_ts"],
            set_status=set_status,
            quick=True,
        )
        rt.pool.submit(
            "assistant",
            answer_text,
            rt,
            client,
            text=payload.get("text") or "",
            user=payload["user"],
            channel=payload["channel"],
            thread_ts=payload["thread_ts"],
            first_delivery=rt.once(body),
        )

    app.use(assistant)

    @app.event("app_mention")
    def mention(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        thread_ts = event.get("thread_ts") or event["ts"]
        working(rt, client, channel=event["channel"], thread_ts=thread_ts, message_ts=event["ts"])
        rt.pool.submit(
            "mention",
            answer_text,
            rt,
            client,
            text=event.get("text") or "",
            user=event["user"],
            channel=event["channel"],
            thread_ts=event.get("thread_ts") or event["ts"],
            first_delivery=rt.once(body),
        )

    def is_person_dm(event: dict[str, Any]) -> bool:
        return (
            event.get("channel_type") == "im"
            and not event.get("subtype")
            and not event.get("bot_id")
            and bool(event.get("user"))
        )

    @app.event("message", matchers=[lambda event: is_person_dm(event)])
    def direct_message(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        thread_ts = event.get("thread_ts") or event["ts"]
        working(rt, client, channel=event["channel"], thread_ts=thread_ts, message_ts=event["ts"])
        rt.pool.submit(
            "dm",
            answer_text,
            rt,
            client,
            text=event.get("text") or "",
            user=event["user"],
            channel=event["channel"],
            thread_ts=event.get("thread_ts") or event["ts"],
            first_delivery=rt.once(body),
        )

    @app.event("message")
    def other_message() -> None:
        # Channel chatter, edits and Warden's own posts: acknowledged, nothing to do. Without
        # this listener Bolt answers 404 and Slack would retry the delivery.
        return
