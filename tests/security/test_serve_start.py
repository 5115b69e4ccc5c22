"""`warden serve` when Slack's Web API cannot be reached at start (connection refused, name not
resolved).

Pass: exit code 2, one line saying what failed and where (without credentials), no traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import BOT_TOKEN, REPO, SIGNING_SECRET, Figures


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "where",
    ["refused", "unresolvable"],
)
def test_serve_says_what_failed_and_where(where: str, tmp_path: Path, figures: Figures) -> None:
    url = {
        "refused": f"http://warden:pw-in-url@127.0.0.1:{_closed_port()}/api/",
        "unresolvable": "http://warden-no-such-host.invalid/api/",
    }[where]
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": url,
        "WARDEN_HOME": str(tmp_path / "home"),
        "WARDEN_ENV": "development",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from warden.cli import main; main()", "serve", "--http",
         "--port", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    figures.tried = 1
    clear = (
        done.returncode == 2
        and "Cannot reach Slack's Web API at" in done.stderr
        and "Traceback" not in done.stderr
        and "pw-in-url" not in done.stderr
    )
    figures.rejected = int(clear)
    figures.server_errors = int(not clear)
    assert clear, (done.returncode, done.stderr[-3000:])
    assert url.split("@")[-1].split("/")[0] in done.stderr  # the address is named
