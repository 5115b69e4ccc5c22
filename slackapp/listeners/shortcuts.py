"""The message shortcut "Ask Warden about this message"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.interface import Intent, WardenRequest
from slackapp.conversation import run_request, thread_id_of
from slackapp.delivery import Audience
from slackapp.runtime import Runtime

if TYPE_CHECKING:
    from slack_bolt import App

CALLBACK_ID = "warden_ask_message"


def register(app: App, rt: Runtime) -> None:
    @app.message_shortcut(CALLBACK_ID)
    def ask_about_message(ack: Any, shortcut: dict[str, Any], client: Any) -> None:
        ack()
        message = shortcut.get("message") or {}
        channel = shortcut["channel"]["id"]
        thread_ts = message.get("thread_ts") or message.get("ts") or shortcut["message_ts"]
        text = message.get("text") or ""
        # The message is content under review: the agent treats it as data, never instructions.
        request = WardenRequest(
            # A private conversation of its own, not the reported message's thread.
            thread_id=thread_id_of(channel, f"{thread_ts}-{shortcut['user']['id']}"),
            user_id=shortcut["user"]["id"],
            text=text,
            intent=Intent.ASK,
        )
        # Answered privately (ephemeral, else DM): the reported person's thread never sees it.
        rt.pool.submit(
            "shortcut",
            run_request,
            rt,
            client,
            request,
            channel=channel,
            thread_ts=thread_ts,
            question=text,
            audience=Audience(user=shortcut["user"]["id"], private=True),
        )
