"""The `/warden` slash command: acknowledged at once, answered in a thread of its own."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from slackapp.blocks import section
from slackapp.conversation import HELP, Command, parse, post, request_for, run_request, thread_id_of
from slackapp.delivery import Audience, privately, slack_error, why_private
from slackapp.escape import escape_untrusted
from slackapp.runtime import Runtime

if TYPE_CHECKING:
    from slack_bolt import App
from slackapp.status import status_text
from warden.errors import InputError

log = logging.getLogger(__name__)


def run_command(
    rt: Runtime,
    client: Any,
    command: Command,
    *,
    raw: str,
    user: str,
    channel: str,
    respond: Any = None,
) -> None:
    """Post the request as a visible message, then the agent's reply in its thread.

    Where Warden cannot post (not in the channel, a DM with someone else), the reply comes
    back to the person through the command's response_url instead of not at all.
    """
    shown = escape_untrusted(raw, limit=500)
    try:
        parent = post(
            client,
            channel=channel,
            thread_ts=None,
            text=f"/warden {shown}",
            blocks=[section(f"<@{user}> asked Warden: `/warden {shown}`")],
        )
    except Exception as exc:
        error = slack_error(exc)
        log.info("command reply in %s goes privately (%s)", channel, error or exc)
        request = request_for(
            command, thread_id=thread_id_of(channel, f"cmd-{uuid.uuid4().hex[:12]}"), user_id=user
        )
        audience = Audience(user=user, respond=respond, private=True, why=why_private(error))
        run_request(
            rt,
            client,
            request,
            channel=channel,
            thread_ts=request.thread_id.rpartition(":")[2],
            question=command.text,
            audience=audience,
        )
        return
    thread_ts = parent["ts"]
    channel = parent["channel"]
    request = request_for(command, thread_id=thread_id_of(channel, thread_ts), user_id=user)
    run_request(
        rt,
        client,
        request,
        channel=channel,
        thread_ts=thread_ts,
        question=command.text,
        audience=Audience(user=user, respond=respond),
    )


def send_status(rt: Runtime, client: Any, *, user: str, channel: str, respond: Any = None) -> None:
    body = status_text(rt, user)
    privately(
        client,
        channel=channel,
        audience=Audience(user=user, respond=respond),
        text="Your Warden status",
        blocks=[section(body)],
    )


def register(app: App, rt: Runtime) -> None:
    @app.command("/warden")
    def warden_command(ack: Any, command: dict[str, Any], client: Any, respond: Any) -> None:
        text = command.get("text") or ""
        try:
            parsed = parse(text)
        except InputError as exc:
            ack(text=escape_untrusted(str(exc), limit=2900))
            return
        user, channel = command["user_id"], command["channel_id"]
        if parsed.verb == "help":
            ack(text=HELP)
            return
        if parsed.verb == "status":
            ack()
            rt.pool.submit(
                "status", send_status, rt, client, user=user, channel=channel, respond=respond
            )
            return
        ack(text=f"Working on `/warden {escape_untrusted(text, limit=200)}`…")
        rt.pool.submit(
            "command",
            run_command,
            rt,
            client,
            parsed,
            raw=text,
            user=user,
            channel=channel,
            respond=respond,
        )
