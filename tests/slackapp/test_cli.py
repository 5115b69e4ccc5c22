"""`warden serve` without Slack configuration says exactly what is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _serve(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "WARDEN_HOME": str(tmp_path / "home"),
        **env,
    }
    code = "from warden.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "serve", *args],
        cwd=tmp_path,  # no .env from the repo
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "Socket Mode: SLACK_BOT_TOKEN, SLACK_APP_TOKEN are not set"),
        (["--http"], {}, "HTTP mode (--http): SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET are not set"),
        (["--http"], {"SLACK_BOT_TOKEN": "xoxb-real-1"}, "SLACK_SIGNING_SECRET is not set"),
        (
            [],
            {"SLACK_BOT_TOKEN": "xoxb-your-token", "SLACK_APP_TOKEN": "xapp-1"},
            "SLACK_BOT_TOKEN is not set (or still a placeholder)",
        ),
    ],
)
def test_serve_names_the_missing_settings(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = _serve(args, env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
