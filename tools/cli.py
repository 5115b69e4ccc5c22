"""Sub-commands of `warden` for this package."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this package's commands to the root `warden` app."""
