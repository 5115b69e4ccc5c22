"""Bolt listeners, one module per feature; each exposes `register(app, rt)`."""

from __future__ import annotations

from typing import Any

from slackapp.listeners import actions, commands, conversations, home, shortcuts
from slackapp.runtime import Runtime


def register(app: Any, rt: Runtime) -> None:
    conversations.register(app, rt)
    commands.register(app, rt)
    shortcuts.register(app, rt)
    actions.register(app, rt)
    home.register(app, rt)
