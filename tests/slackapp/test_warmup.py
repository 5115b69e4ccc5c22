"""`warden serve` starts warming the embedder right after the app is built, without waiting."""

from __future__ import annotations

import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


class FakeWarden:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.release = threading.Event()

    def warm_up(self) -> threading.Thread:
        self.events.append("warm_up")
        # A warm-up that never finishes on its own: serve must not wait for it.
        thread = threading.Thread(target=self.release.wait, args=(30,), daemon=True)
        thread.start()
        return thread


def test_serve_warms_up_after_building_and_does_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    import slackapp.app
    import slackapp.reminders
    import slackapp.socket
    import tools.store
    import warden.settings as warden_settings
    from slackapp.cli import register

    events: list[str] = []
    warden = FakeWarden(events)

    class Settings:
        environment = "development"

        def missing_slack_settings(self, *, http: bool) -> list[str]:
            return []

    class Slack:
        runtime = client = None

        def close(self) -> None:
            events.append("close")

    class Reminders:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> Reminders:
            return self

        def stop(self) -> None:
            pass

    def build_warden(settings: Any, *, store: Any) -> FakeWarden:
        events.append("build_warden")
        return warden

    def build_app(settings: Any, *, warden: Any, store: Any, client: Any) -> Slack:
        events.append("build_app")
        return Slack()

    def run(slack: Any) -> None:
        # The transport starts (and acks events) while the warm-up is still running.
        assert not warden.release.is_set()
        events.append("run")

    service = types.ModuleType("agent.service")
    service.build_warden = build_warden  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agent.service", service)
    monkeypatch.setattr(warden_settings, "get_settings", lambda: Settings())
    monkeypatch.setattr(tools.store, "build_store", lambda settings: object())
    monkeypatch.setattr(slackapp.app, "build_app", build_app)
    monkeypatch.setattr(slackapp.app, "build_client", lambda settings: object())
    monkeypatch.setattr(slackapp.app, "check_slack", lambda client, settings: {"ok": True})
    monkeypatch.setattr(slackapp.reminders, "ReminderLoop", Reminders)
    monkeypatch.setattr(slackapp.socket, "run", run)

    import typer

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, [])
    warden.release.set()
    assert result.exit_code == 0, result.output
    assert events == ["build_warden", "build_app", "warm_up", "run", "close"]


def test_cli_import_loads_no_torch() -> None:
    # `warden --help` must start fast: the embedding stack is imported only when used.
    code = (
        "import sys, warden.cli, slackapp.cli, agent.service, knowledge.embeddings; "
        "warden.cli._register(); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
