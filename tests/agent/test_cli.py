"""`warden ask / recommend / chat` through the real command."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from warden.cli import _register, app


@pytest.fixture
def cli(make_warden: Any, sample_store: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from agent import cli as agent_cli

    warden = make_warden()

    def open_session(settings: Any) -> Any:
        return agent_cli.Session(warden=warden, store=sample_store, approvers={"U-lead", "U-req"})

    monkeypatch.setattr(agent_cli, "_open", open_session)
    if not any(c.name == "chat" for c in app.registered_commands):
        _register()
    return CliRunner()


def test_ask_json(cli: CliRunner) -> None:
    result = cli.invoke(app, ["ask", "can I post someone's home address?", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["kind"] == "answer" and body["mode"] == "excerpts"
    assert body["citations"] and body["citations"][0]["policy_id"] == "PV"


def test_recommend_text(cli: CliRunner) -> None:
    result = cli.invoke(app, ["recommend", "case-1001"])
    assert result.exit_code == 0, result.output
    assert "Case case-1001: violating, remove (HA HA-2.1)" in result.output
    assert "Rules-based draft" in result.output


def test_chat_proposal_with_requester_rule(cli: CliRunner, sample_store: Any) -> None:
    script = "\n".join(
        [
            "/propose cl-spam-0093",
            "approve",
            "U-req",  # the requester (this session's user) cannot approve
            "approve",
            "U-lead",
            "/quit",
        ]
    )
    result = cli.invoke(app, ["chat", "--user", "U-req"], input=script + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Proposal prop_" in out and "9 actions" in out
    assert "requester cannot approve" in out
    assert "progress: 9/9 applied" in out
    assert ": executed." in out
