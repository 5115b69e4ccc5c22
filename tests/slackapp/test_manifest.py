"""The Slack app manifest declares exactly what the code uses: scopes, events, commands."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from slackapp.listeners.shortcuts import CALLBACK_ID

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "slackapp" / "manifest.yaml"

# Web API method -> the bot scope Slack requires for it (None: no scope needed).
# https://api.slack.com/methods — a method the code calls that is missing here fails the test.
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.getPermalink": None,
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "assistant.threads.setStatus": "assistant:write",
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "conversations.list": "channels:read groups:read",
    "conversations.open": "im:write",
    "reactions.add": "reactions:write",
    "usergroups.list": "usergroups:read",
    "usergroups.users.list": "usergroups:read",
    "views.open": None,
    "views.publish": None,
    "views.update": None,
}
# Bolt calls these for the listeners (Assistant's say / set_status / set_suggested_prompts).
BOLT_CALLS = {
    "chat.postMessage",
    "assistant.threads.setStatus",
    "assistant.threads.setSuggestedPrompts",
}
# slack_sdk's chat_stream() is three API methods.
EXPANDS = {"chat.stream": {"chat.startStream", "chat.appendStream", "chat.stopStream"}}
NOT_API = {"close", "post", "like"}  # client methods that are not Web API calls (like: redacting)

# Event subscription -> the scope it needs, and how the code listens for it.
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "app_home_opened": None,
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


def _methods_called() -> set[str]:
    called: set[str] = set()
    for path in (ROOT / "slackapp").rglob("*.py"):
        if "demo" in path.parts or path.name in ("standin.py", "driver.py", "loadcheck.py"):
            continue
        for name in re.findall(r"\bclient\.([a-zA-Z_]+)\(", path.read_text()):
            if name in NOT_API:
                continue
            method = name.replace("_", ".")
            called |= EXPANDS.get(method, {method})
    return called | BOLT_CALLS


def _events_listened() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "slackapp" / "listeners").rglob("*.py"))
    events = set(re.findall(r'@app\.event\("([a-z_]+)"', text))
    if "message" in events:
        # Message listeners: DMs (channel_type im) and thread replies in channels / groups.
        events = (events - {"message"}) | {"message.im", "message.channels", "message.groups"}
    if "Assistant()" in text:
        events |= {"assistant_thread_started", "assistant_thread_context_changed"}
    return events


def test_manifest_matches_the_listeners() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    features = manifest["features"]
    assert [c["command"] for c in features["slash_commands"]] == ["/warden"]
    assert [s["callback_id"] for s in features["shortcuts"]] == [CALLBACK_ID]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == _events_listened()


def test_manifest_scopes_are_exactly_the_ones_used() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    declared = set(manifest["oauth_config"]["scopes"]["bot"])
    called = _methods_called()
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add these methods and their scopes to METHOD_SCOPES: {unknown}"
    needed = {"commands"} | {
        scope for method in called for scope in (METHOD_SCOPES[method] or "").split()
    }
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    needed |= {s for e in events if (s := EVENT_SCOPES[e])}
    assert declared - needed == set(), "declared but never used"
    assert needed - declared == set(), "used but not declared"
