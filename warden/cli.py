"""The `warden` command: each package registers its own sub-commands."""

from __future__ import annotations

import importlib
import os

import typer

from warden.errors import WardenError
from warden.logs import configure as configure_logging

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    name="warden",
    help="Warden: a Slack agent for Trust & Safety teams, grounded on your own policies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


CLI_MODULES = (
    "knowledge.cli",
    "tools.cli",
    "tools.fanout_cli",
    "agent.cli",
    "slackapp.cli",
    "ops.cli",
    "warden.commands",
    "tools.outbox_cli",
)


def _register() -> None:
    # Each package's cli module imports its heavy dependencies lazily inside commands.
    for name in CLI_MODULES:
        importlib.import_module(name).register(app)


def main() -> None:
    """Run the CLI; Warden errors become one clear line and exit code 2."""
    level = os.environ.get("WARDEN_LOG_LEVEL", "WARNING")
    # Some libraries (bm25s) set their own loggers to DEBUG; the handler's level keeps them quiet.
    configure_logging(level, os.environ.get("WARDEN_LOG_FORMAT"))
    _register()
    try:
        app()
    except WardenError as exc:
        from warden.redact import scrub

        typer.secho(f"error: {scrub(str(exc))}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from exc
