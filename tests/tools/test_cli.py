"""The store's commands, run through Typer as `warden` runs them (settings from the env)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from tests.tools.helpers import case_line, two_author_case
from tools.cli import register
from warden.errors import InputError, NotFoundError


@pytest.fixture
def run(warden_home: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("LOGNAME", "appeals")
    monkeypatch.setenv("WARDEN_OPERATORS", "appeals=UAPPEALS1")
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(app, list(args))

    return invoke


def test_import_show_and_list(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.jsonl"
    good.write_text(two_author_case("case-1") + "\n")
    result = run("cases", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "1 imported" in result.output
    shown = run("cases", "show", "case-1", "--json")
    assert json.loads(shown.output)["items"][0]["author_id"] == "acct-a"
    assert "case-1" in run("cases", "list").output
    missing = run("cases", "show", "nope")
    assert isinstance(missing.exception, NotFoundError)


def test_import_modes(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        "\n".join(
            [case_line("a", [("c-a", "u", "t")]), "{oops", case_line("b", [("c-b", "u", "t")])]
        )
    )
    strict = run("cases", "import", str(mixed))
    assert isinstance(strict.exception, InputError) and "line 2" in str(strict.exception)
    assert isinstance(run("cases", "show", "a").exception, NotFoundError)
    lenient = run("cases", "import", str(mixed), "--keep-valid")
    assert lenient.exit_code == 1 and "2 imported" in lenient.output
    assert "line 2" in lenient.output
    assert run("cases", "show", "b").exit_code == 0


def test_sample_strikes_appeal_and_audit(  # type: ignore[no-untyped-def]
    run, warden_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warden.settings import get_settings

    monkeypatch.setenv("WARDEN_OPERATORS", "appeals=UAPPEALS1,ana=UANA00001")
    monkeypatch.setenv("WARDEN_REVIEWER_GROUPS", "critical-harms=UANA00001+UAPPEALS1")
    get_settings.cache_clear()
    loaded = run("cases", "load-sample")
    assert loaded.exit_code == 0 and "42 cases" in loaded.output
    assert "0 cases" in run("cases", "load-sample").output
    standing = run("strikes", "show", "acct-1012")
    assert "HA: 1 active in 90 days (next: 2 -> limit distribution for 14 days)" in standing.output
    monkeypatch.setenv("LOGNAME", "ana")
    queue = json.loads(run("cases", "queue", "--pod", "critical-harms", "--json").output)
    assert "case-1006" in [e["case_id"] for e in queue]
    claimed = json.loads(run("cases", "claim", "case-1006", "--json").output)
    assert (claimed["claimed_by"], claimed["status"]) == ("UANA00001", "in_review")
    decided = run(
        "cases", "decide", "case-1006", "--violating", "--section", "HA-2.4",
        "--action", "remove", "--json",
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    body = json.loads(decided.output)
    assert body["case"]["status"] == "closed"
    assert body["strike_effects"][0]["threshold_crossed"] == "limit_distribution"
    assert len(body["statement_ids"]) == 3  # removal, strike, restriction
    shown = json.loads(run("strikes", "show", "acct-1012", "--json").output)
    assert shown["status"] == "limited" and shown["active_restrictions"][0]["ends_at"]
    filed = json.loads(run("appeal", "file", "case-1006", "--reason", "a news report",
                           "--json").output)  # fmt: skip
    refused = run("appeal", "decide", filed["id"], "--overturn", "--reason", "r")
    assert refused.exception is not None and "made or approved" in str(refused.exception)
    monkeypatch.setenv("LOGNAME", "appeals")
    overturned = run("appeal", "decide", filed["id"], "--overturn", "--reason", "news report")
    assert overturned.exit_code == 0, overturned.output
    assert "account acct-1012: active" in overturned.output
    assert "HA: 1 active" in run("strikes", "show", "acct-1012").output
    stats = run("cases", "stats")
    assert stats.exit_code == 0 and "handling time (claim -> decision): median" in stats.output
    verified = run("audit", "verify")
    assert verified.exit_code == 0 and "intact" in verified.output
    out = tmp_path / "audit.jsonl"
    assert run("audit", "export", "--out", str(out)).exit_code == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert (first["verb"], first["actor"]) == ("case.claimed", "UANA00001")
    from tests.fixtures.audit_guard import unguarded
    from tools.store import Store

    store = Store.open(f"sqlite:///{warden_home / 'warden.db'}")
    with unguarded(store) as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'U_OTHER' WHERE seq = 1"))
    store.close()
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "seq 1" in broken.output
    assert run("reasons", "export").exit_code == 0
    assert run("escalations", "sweep").exit_code == 0


def test_show_escapes_terminal_control_sequences(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(
        case_line("case-esc", [("c-e", "u-e", "hi \x1b[2J\x1b]0;pwned\x07 there")]) + "\n"
    )
    assert run("cases", "import", str(hostile)).exit_code == 0
    shown = run("cases", "show", "case-esc")
    assert "\x1b" not in shown.output and "\\x1b[2J" in shown.output


def test_commands_that_record_decisions_refuse_an_unmapped_os_user(  # type: ignore[no-untyped-def]
    run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warden.errors import ConfigError
    from warden.settings import get_settings

    monkeypatch.setenv("LOGNAME", "nobody-mapped")
    get_settings.cache_clear()
    assert run("cases", "load-sample").exit_code == 0
    result = run("cases", "claim", "case-1006")
    assert isinstance(result.exception, ConfigError)
    assert "add nobody-mapped=<Slack user id> to WARDEN_OPERATORS" in str(result.exception)
    decided = run("cases", "decide", "case-1006", "--not-violating", "--reason", "r")
    assert isinstance(decided.exception, ConfigError)
    assert "[new]" in run("cases", "show", "case-1006").output
    for command in (("appeal", "decide"), ("cases", "decide"), ("cases", "claim")):
        assert "--user" not in run(*command, "--help").output
