"""`make demo` end to end (WARDEN_STRESS=1 only: it ingests the policies and evaluates 288 cases).

The fast checks of its gate step are in tests/ops/test_demo_gate.py; this plays the whole story
twice in the same data folder, each in its own process, as a user running `make demo` twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slackapp.demo.world import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("WARDEN_STRESS") != "1",
        reason="full demo (~1.5 min per run); tests/ops/test_demo_gate.py covers its gate step",
    ),
]


def test_the_demo_opens_the_gate_for_real_and_runs_twice(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"WARDEN_GATES_FILE", "OPENAI_BASE_URL"}}
    home = tmp_path / "demo"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "slackapp.demo", "--home", str(home)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout
        assert out.count("Refused: HA cannot be switched to propose") == 1
        assert "HA precision 0." in out and "support 228 labelled positives" in out
        assert "Done: HA is in propose mode" in out
        assert "Executed: 400 applied, 0 failed" in out
        assert "without the gate" not in out
        # Issue 13's chapter: paging, triage from the card, thread follow-up, private shortcut.
        assert "mentions @ts-oncall" in out and "mentions @enforcement-leads" in out
        assert "(status in the store: resolved)" in out
        assert "(Warden posts in the reported message's thread: 0 messages)" in out
        # Every blocks / view payload Slack received parses and stays within Slack's limits.
        from slackapp.callcheck import check_calls, read_calls

        checked, problems = check_calls(read_calls(home / "slack-calls.jsonl"))
        assert checked > 30 and problems == []
