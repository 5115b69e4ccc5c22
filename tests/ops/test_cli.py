"""The `warden` commands through the root Typer app: eval on 50 rows, gates, report and qa."""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tools.gates import GateClosed
from warden.errors import InputError
from warden.settings import shared_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from click.testing import Result

HATECHECK = shared_dir() / "datasets" / "hatecheck_test_suite_cases.csv"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """Run `warden ...` in-process (CliRunner) against a private home and database."""
    from typer.testing import CliRunner

    import warden.cli
    from warden.settings import get_settings

    monkeypatch.setenv("WARDEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WARDEN_DATABASE_URL", f"sqlite:///{tmp_path / 'ops.db'}")
    monkeypatch.delenv("WARDEN_GATES_FILE", raising=False)
    monkeypatch.setenv("LOGNAME", "policy-oncall")
    monkeypatch.setenv("WARDEN_OPERATORS", "policy-oncall=UOWNER001")
    get_settings.cache_clear()
    if not any(c.name == "gates" for c in warden.cli.app.registered_groups):
        warden.cli._register()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(warden.cli.app, list(args))

    yield run
    get_settings.cache_clear()


def test_gates_cli_refuses_unevaluated_policy(cli: Callable[..., Result]) -> None:
    refused = cli("gates", "set", "SP", "propose")
    assert isinstance(refused.exception, GateClosed)
    assert "no stored evaluation for this policy" in str(refused.exception)
    status = cli("gates")
    assert status.exit_code == 0, status.output
    assert "SP" in status.output and "shadow" in status.output
    assert cli("gates", "set", "SP", "off").exit_code == 0
    check = cli("gates", "check", "SP", "3")
    assert check.exit_code == 1 and "Automation is off for SP" in check.output
    bad = cli("gates", "set", "SP", "maybe")
    assert isinstance(bad.exception, InputError) and "Unknown mode" in str(bad.exception)


def test_report_and_qa_cli(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("report", "--out", str(tmp_path / "rep"), "--since", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rep" / "index.html").is_file()
    assert (tmp_path / "rep" / "transparency.csv").read_text().startswith("section,key,")
    period = cli(
        "report", "--out", str(tmp_path / "p"), "--since", "2026-01-01", "--until", "2026-02-01"
    )
    assert period.exit_code == 0, period.output
    assert "period,until,,2026-02-01 00:00" in (tmp_path / "p" / "transparency.csv").read_text()
    assert list((tmp_path / "rep" / "charts").glob("*.png"))
    sample = cli("qa", "sample", "--rate", "0.5")
    assert sample.exit_code == 0 and "0 decisions" in sample.output
    scores = cli("qa", "scores")
    assert scores.exit_code == 0 and "0 sampled" in scores.output
    kpis = cli("kpis", "--since", "2026-01-01")
    assert kpis.exit_code == 0, kpis.output
    assert "Today: 0 cases opened" in kpis.output and "Gaps: none called out." in kpis.output
    bad_date = cli("report", "--since", "yesterday")
    assert isinstance(bad_date.exception, InputError)
    assert "use a date like" in str(bad_date.exception)


@pytest.mark.skipif(not HATECHECK.is_file(), reason="HateCheck data set not present")
def test_eval_cli_on_50_rows(
    cli: Callable[..., Result],
    policy_retriever: Any,
    policy_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from warden.settings import get_settings

    # policy_retriever guarantees the session's index exists under policy_settings.home.
    monkeypatch.setenv("WARDEN_HOME", str(policy_settings.home))
    get_settings.cache_clear()
    threads = torch.get_num_threads()
    try:
        result = cli("eval", str(HATECHECK), "--limit", "50", "--no-progress")
    finally:
        torch.set_num_threads(threads)  # `warden eval` pins one thread; leave the session as it was
    assert result.exit_code == 0, result.output[-2000:]
    out = result.output
    assert "50 cases, mapping hatecheck, mode rules" in out
    assert "per 1,000 cases" in out
    assert "HA" in out and "confusion" in out
    with HATECHECK.open(encoding="utf-8") as fh:
        texts = [row["test_case"].strip() for row in islice(csv.DictReader(fh), 50)]
    assert not any(t in out for t in texts), "data set text leaked"
    runs = cli("eval-runs")
    assert runs.exit_code == 0 and "hatecheck_test_suite_cases.csv" in runs.output
    # 50 rows are far below the gate's minimum support: propose stays refused, with figures.
    refused = cli("gates", "set", "HA", "propose")
    assert isinstance(refused.exception, GateClosed)
    assert "on 50 labelled cases" in str(refused.exception)


def test_qa_reversal_from_the_command_line(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disagree, list the reversal it opened, approve it as two other people: it executes."""
    from knowledge.catalogue import load_catalogue
    from tests.tools.test_appeals import _decide_removal
    from tests.tools.test_casework import ANA, BEN, CHIDI, load
    from tools.gateway import LocalPlatform
    from tools.store import Store
    from warden.settings import get_settings

    store = Store.open(f"sqlite:///{tmp_path / 'ops.db'}")
    load(store)
    _decide_removal(store, load_catalogue())  # ANA removes ha-1: HA needs two approvers

    def as_user(login: str) -> None:
        monkeypatch.setenv("LOGNAME", login)
        get_settings.cache_clear()

    monkeypatch.setenv("WARDEN_OPERATORS", f"chidi={CHIDI},ana={ANA},ben={BEN}")
    monkeypatch.setenv("WARDEN_APPROVERS", f"{ANA},{BEN},{CHIDI}")
    as_user("chidi")
    assert cli("qa", "sample", "--rate", "1").exit_code == 0
    listed = cli("qa", "list").output
    (case_sample,) = [line.split()[0] for line in listed.splitlines() if " case c-ha " in line]
    review = cli("qa", "review", case_sample, "--disagree", "--reason", "counter-speech")
    assert review.exit_code == 0 and "opened reversal proposal" in review.output, review.output
    shown = cli("qa", "reversals").output
    proposal_id, digest = shown.split()[0], shown.split("hash ")[1].split()[0]
    assert "undo remove content ha-1" in shown and "0/2 approvals" in shown
    assert cli("qa", "approve", proposal_id, digest).exit_code == 1  # the requester: refused
    as_user("ana")
    assert cli("qa", "approve", proposal_id, "0" * 12).exit_code != 0  # not what was shown
    first = cli("qa", "approve", proposal_id, digest)
    assert first.exit_code == 0 and "a second approver is needed" in first.output
    as_user("ben")
    done = cli("qa", "approve", proposal_id, digest)
    assert done.exit_code == 0, done.output
    assert f"{proposal_id} executed: 1 of 1 reversed" in done.output
    assert LocalPlatform(store.engine).target("content", "ha-1").removals == 0  # type: ignore[union-attr]
    assert "No reversal proposals waiting" in cli("qa", "reversals").output
    assert "executed" in cli("qa", "reversals", "--all").output
    store.close()
