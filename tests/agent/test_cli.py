"""`warden ask / recommend / chat` through the real command."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from warden.cli import _register, app

REQ, LEAD = "UREQ00001", "ULEAD0001"
PEOPLE = {"WARDEN_OPERATORS": f"req={REQ},lead={LEAD}", "WARDEN_APPROVERS": f"{REQ},{LEAD}"}


def as_os_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Run the command as OS user `name` (getpass reads LOGNAME first)."""
    monkeypatch.setenv("LOGNAME", name)


@pytest.fixture
def cli(make_warden: Any, sample_store: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from agent import cli as agent_cli
    from warden.settings import Settings

    warden = make_warden()

    def open_session(_settings: Any) -> Any:
        # Read the environment at each command: tests change the people between runs.
        return agent_cli.Session(warden=warden, store=sample_store, settings=Settings())

    for name, value in PEOPLE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WARDEN_ENV", raising=False)

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


def _thread(output: str) -> str:
    return output.split("(thread ", 1)[1].split(")", 1)[0]


def test_chat_approver_is_the_os_user_never_a_typed_id(
    cli: CliRunner, sample_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_os_user(monkeypatch, "req")
    first = cli.invoke(app, ["chat"], input="/propose cl-spam-0093\napprove\n/quit\n")
    assert first.exit_code == 0, first.output
    assert "Proposal prop_" in first.output and "9 actions" in first.output
    # The requester's own approval is refused; there is no prompt for another person's id.
    assert "requester cannot approve" in first.output
    assert "approver id" not in first.output
    as_os_user(monkeypatch, "lead")
    thread = _thread(first.output)
    second = cli.invoke(app, ["chat", "--thread", thread], input="/pending\ny\napprove\n/quit\n")
    assert second.exit_code == 0, second.output
    assert "progress: 9/9 applied" in second.output
    assert ": executed." in second.output
    from tools.store import Store

    assert isinstance(sample_store, Store)
    [proposal] = [p for p in __import__("tools.proposals").proposals.list_proposals(sample_store)]
    assert proposal.requester_id == REQ
    assert [a.approver_id for a in proposal.approvals] == [LEAD]


def test_chat_refuses_approval_without_a_mapping_or_in_production(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_os_user(monkeypatch, "stranger")
    unmapped = cli.invoke(app, ["chat"], input="/propose cl-spam-0093\napprove\n/quit\n")
    assert unmapped.exit_code == 0, unmapped.output
    assert "add stranger=<Slack user id> to WARDEN_OPERATORS" in unmapped.output
    as_os_user(monkeypatch, "lead")
    monkeypatch.setenv("WARDEN_ENV", "production")
    production = cli.invoke(app, ["chat"], input="/propose cl-spam-0093\napprove\n/quit\n")
    assert "approved or rejected in Slack only" in production.output
    monkeypatch.delenv("WARDEN_ENV")
    monkeypatch.delenv("WARDEN_APPROVERS")
    nobody = cli.invoke(app, ["chat"], input="/propose cl-spam-0093\napprove\n/quit\n")
    assert "No approvers are configured: set WARDEN_APPROVERS" in nobody.output
