"""The real `warden` commands in a subprocess: eval on 50 rows, gates, report, qa."""

from __future__ import annotations

import csv
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HATECHECK = Path("/work/shared/datasets/hatecheck_test_suite_cases.csv")


def warden(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "WARDEN_HOME": str(tmp_path / "home"),
        "WARDEN_DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "from warden.cli import main; main()", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.skipif(not HATECHECK.is_file(), reason="HateCheck data set not present")
def test_eval_cli_on_50_rows(policy_retriever: Any, policy_settings: Any, tmp_path: Path) -> None:
    # policy_retriever guarantees the session's index exists under policy_settings.home.
    home = str(policy_settings.home)
    result = warden(
        ["eval", str(HATECHECK), "--limit", "50", "--no-progress"], tmp_path, WARDEN_HOME=home
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "50 cases, mapping hatecheck, mode rules" in out
    assert "per 1,000 cases" in out
    assert "HA" in out and "confusion" in out
    with HATECHECK.open(encoding="utf-8") as fh:
        texts = [row["test_case"].strip() for row in islice(csv.DictReader(fh), 50)]
    assert not any(t in out or t in result.stderr for t in texts), "data set text leaked"
    # 50 rows are far below the gate's minimum support: propose stays refused, with figures.
    refused = warden(["gates", "set", "HA", "propose"], tmp_path, WARDEN_HOME=home)
    assert refused.returncode == 2
    assert "cannot be switched to propose" in refused.stderr
    assert "on 50 labelled cases" in refused.stderr


def test_gates_cli_refuses_unevaluated_policy(tmp_path: Path) -> None:
    refused = warden(["gates", "set", "SP", "propose"], tmp_path)
    assert refused.returncode == 2
    assert "no stored evaluation for this policy" in refused.stderr
    status = warden(["gates"], tmp_path)
    assert status.returncode == 0, status.stderr
    assert "SP" in status.stdout and "shadow" in status.stdout
    assert warden(["gates", "set", "SP", "off"], tmp_path).returncode == 0
    check = warden(["gates", "check", "SP", "3"], tmp_path)
    assert check.returncode == 1 and "Automation is off for SP" in check.stdout
    bad = warden(["gates", "set", "SP", "maybe"], tmp_path)
    assert bad.returncode == 2 and "Unknown mode" in bad.stderr


def test_report_and_qa_cli(tmp_path: Path) -> None:
    result = warden(["report", "--out", str(tmp_path / "rep"), "--since", "2026-01-01"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "rep" / "index.html").is_file()
    assert list((tmp_path / "rep" / "charts").glob("*.png"))
    sample = warden(["qa", "sample", "--rate", "0.5"], tmp_path)
    assert sample.returncode == 0 and "0 decisions" in sample.stdout
    scores = warden(["qa", "scores"], tmp_path)
    assert scores.returncode == 0 and "0 sampled" in scores.stdout
    bad_date = warden(["report", "--since", "yesterday"], tmp_path)
    assert bad_date.returncode == 2 and "use a date like" in bad_date.stderr
