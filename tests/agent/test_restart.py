"""A pending approval survives the process: propose in one process, resume in another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tools import proposals

REPO = Path(__file__).resolve().parents[2]
THREAD = "C-ops:restart"


def run_child(*args: str) -> dict[str, Any]:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.agent.restart_child", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_resume_from_a_new_process(sample_store: Any, tmp_path: Path) -> None:
    url = str(sample_store.engine.url)
    checkpoint = str(tmp_path / "checkpoints.sqlite")

    first = run_child("propose", checkpoint, url, THREAD)
    assert first["response"]["kind"] == "proposal"
    pid = first["response"]["proposal"]["id"]
    action_hash = first["response"]["proposal"]["action_hash"]

    # The approver decides in Slack while no Warden process is running.
    decided = proposals.approve(sample_store, pid, "U-lead", action_hash, approvers={"U-lead"})
    assert decided.accepted

    second = run_child("resume", checkpoint, url, THREAD, pid)
    assert second["pending"] == [pid]  # the new process found the paused proposal
    outcome = second["response"]
    assert outcome["kind"] == "proposal_outcome", outcome
    assert (outcome["status"], outcome["applied"]) == ("executed", 9)

    third = run_child("resume", checkpoint, url, THREAD, pid)
    assert third["pending"] == []
    assert third["response"]["kind"] == "refusal"
