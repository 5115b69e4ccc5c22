"""A pending approval survives the process: propose here, resume in a NEW process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent.interface import Decision, Intent, ProposalPending, Refusal, WardenRequest
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


def test_resume_from_a_new_process(
    make_warden: Any, sample_store: Any, checkpoint_file: Path
) -> None:
    warden = make_warden()
    pending = warden.handle(
        WardenRequest(
            thread_id=THREAD, user_id="U-req", intent=Intent.PROPOSE, cluster_id="cl-spam-0093"
        )
    )
    assert isinstance(pending, ProposalPending)
    pid = pending.proposal.id
    # The approver decides in Slack; the process that paused the graph plays no part.
    decided = proposals.approve(
        sample_store, pid, "U-lead", pending.proposal.action_hash, approvers={"U-lead"}
    )
    assert decided.accepted

    child = run_child("resume", str(checkpoint_file), str(sample_store.engine.url), THREAD, pid)
    assert child["pending"] == [pid]  # the new process found the paused proposal on disk
    outcome = child["response"]
    assert outcome["kind"] == "proposal_outcome", outcome
    assert (outcome["status"], outcome["applied"]) == ("executed", 9)

    # Back here, the thread is no longer waiting: a late resume is refused.
    assert warden.pending(THREAD) == []
    late = warden.resume(THREAD, Decision(proposal_id=pid, decision="approve"))
    assert isinstance(late, Refusal)
