"""The feedback buttons under answers and recommendations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slackapp.blocks import FEEDBACK
from slackapp.feedback import feedback_clicked
from slackapp.runtime import Runtime

if TYPE_CHECKING:
    from slack_bolt import App


def register(app: App, rt: Runtime) -> None:
    @app.action(FEEDBACK)
    def feedback(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        container = body.get("container") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if not channel or not ts or action.get("value") not in ("good", "bad"):
            return
        rt.pool.submit(
            "feedback",
            feedback_clicked,
            rt,
            client,
            user=body["user"]["id"],
            channel=str(channel),
            ts=str(ts),
            positive=action["value"] == "good",
        )
