"""`warden fanout run|status` through the real CLI, on the store the settings point at."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from knowledge.catalogue import Catalogue
from tests.tools.fanout_child import seed_approved_proposal, tally
from tools.fanout_cli import register
from tools.store import Store


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _seeded(warden_home: Path, catalogue: Catalogue, n: int) -> tuple[Store, str]:
    from warden.settings import get_settings

    store = Store.open(get_settings().db_url)
    return store, seed_approved_proposal(store, catalogue, n=n).id


def test_fanout_run_then_status(warden_home: Path, catalogue: Catalogue) -> None:
    app = _app()
    store, proposal_id = _seeded(warden_home, catalogue, 40)
    runner = CliRunner()
    before = runner.invoke(app, ["fanout", "status", proposal_id])
    assert before.exit_code == 0, before.output
    assert "0/40 applied" in before.output and "(approved)" in before.output
    ran = runner.invoke(app, ["fanout", "run", proposal_id, "--batch-size", "15"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output[ran.output.index("{") :])["applied"] == 40
    after = runner.invoke(app, ["fanout", "status", proposal_id, "--json"])
    report = json.loads(after.output)
    assert (report["applied"], report["pending"], report["proposal_status"]) == (
        40,
        0,
        "executed",
    )
    again = runner.invoke(app, ["fanout", "run", proposal_id])
    assert again.exit_code != 0 and "executed" in str(again.exception)
    store.close()


def test_fanout_run_with_two_worker_processes(warden_home: Path, catalogue: Catalogue) -> None:
    app = _app()
    store, proposal_id = _seeded(warden_home, catalogue, 200)
    result = CliRunner().invoke(
        app, ["fanout", "run", proposal_id, "--workers", "2", "--batch-size", "10"]
    )
    assert result.exit_code == 0, result.output
    assert "200/200 applied" in result.output
    counts = tally(store, store.get_proposal(proposal_id))
    assert (counts.lost, counts.duplicated) == (0, 0)
    store.close()
