"""Socket Mode: the default transport (no public URL needed); redeliveries are deduplicated."""

from __future__ import annotations

from slackapp.app import SlackApp
from warden.errors import ConfigError


def run(slack: SlackApp) -> None:
    """Connect to Slack over Socket Mode and serve until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    token = slack.runtime.settings.slack_app_token
    if token is None:
        raise ConfigError(
            "Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)."
        )
    handler = SocketModeHandler(slack.bolt, token.get_secret_value())
    handler.start()  # type: ignore[no-untyped-call]
