"""The Slack app manifest declares what the listeners handle (command, shortcut, events)."""

from __future__ import annotations

from pathlib import Path

import yaml

from slackapp.listeners.shortcuts import CALLBACK_ID

MANIFEST = Path(__file__).resolve().parents[2] / "slackapp" / "manifest.yaml"


def test_manifest_matches_the_listeners() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    features = manifest["features"]
    assert [c["command"] for c in features["slash_commands"]] == ["/warden"]
    assert [s["callback_id"] for s in features["shortcuts"]] == [CALLBACK_ID]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "app_home_opened", "assistant_thread_started"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage, usergroups.users.list, assistant.threads.*, users.info
    assert {"chat:write", "usergroups:read", "assistant:write", "users:read", "commands"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
