"""Bolt listeners, one module per feature; each exposes `register(app, rt)`."""

from __future__ import annotations

from typing import Any

from slackapp.listeners import (
    actions,
    commands,
    conversations,
    escalations,
    feedback,
    home,
    messages,
    shortcuts,
    targets,
)
from slackapp.runtime import Runtime


def register(app: Any, rt: Runtime) -> None:
    # Thread replies first: Bolt runs the first listener that matches a message event.
    messages.register(app, rt)
    conversations.register(app, rt)
    commands.register(app, rt)
    shortcuts.register(app, rt)
    actions.register(app, rt)
    home.register(app, rt)
    escalations.register(app, rt)
    feedback.register(app, rt)
    targets.register(app, rt)
