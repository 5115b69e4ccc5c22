"""App Home tab: published whenever a person opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slackapp.home import publish
from slackapp.runtime import Runtime

if TYPE_CHECKING:
    from slack_bolt import App


def register(app: App, rt: Runtime) -> None:
    @app.event("app_home_opened")
    def home_opened(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("tab", "home") != "home":
            return
        rt.pool.submit("home", publish, rt, client, event["user"], first_delivery=rt.once(body))
