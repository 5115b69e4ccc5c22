"""4. `WARDEN_ENV=production` refuses weak secrets and the local platform, before contacting
anything.

Pass: every short, low-entropy or placeholder value of every secret setting is refused (the
settings found by type, so an API key list added later is covered too); production without an
enforcement API is refused; `warden serve` exits 2 naming the problem, and neither Slack nor the
store was touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.hostile_api import HostileApi, Reply
from tests.security.conftest import REPO, Figures
from warden.errors import ConfigError
from warden.production import production_problems, require_production_ready
from warden.settings import Settings

GOOD = {
    "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
    "SLACK_BOT_TOKEN": "xoxb-2048-99321-Qm7tRk2LpW9zXv4Ha",
    "SLACK_APP_TOKEN": "xapp-1-A02-77311-c9e8d7f6a5b4c3d2",
    "OPENAI_API_KEY": "sk-proj-4Tq9Zr8Wm2Xk7Lp3Vn6Bc1",
    "WARDEN_ENFORCEMENT_API_URL": "https://enforcement.internal.example.net",
    "WARDEN_ENFORCEMENT_API_KEY": "ek_live_7Hq2Vd9Rm4Tx8Kp1Zb6N",
    "WARDEN_EMBEDDINGS_API_KEY": "emb-3Jv8Qw1Ty6Ur4Ie9Op2A",
    "WARDEN_AUDIT_KEY": "b7e23ec29af22b0b4e41da31e868d572",
}
SECRETS = [k for k in GOOD if k != "WARDEN_ENFORCEMENT_API_URL"]
WEAK = [
    "placeholder", "x", "your-signing-secret", "changeme", "secret", "xoxb-your-token",
    "aaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababababab", "0123456789",
    "REPLACE_WITH_REAL_KEY_0123456789", "12345678abcdefgh-example",
]  # fmt: skip


def _production(**values: Any) -> Settings:
    return Settings(WARDEN_ENV="production", **{**GOOD, **values})


def test_a_real_configuration_starts(figures: Figures) -> None:
    """Control: strong values pass."""
    figures.note("control: a configuration of generated values passes")
    assert production_problems(_production()) == []
    assert production_problems(Settings(WARDEN_ENV="development", SLACK_SIGNING_SECRET="x")) == []


@pytest.mark.parametrize("name", SECRETS)
def test_every_secret_setting_refuses_weak_values(name: str, figures: Figures) -> None:
    for value in WEAK:
        figures.tried += 1
        problems = production_problems(_production(**{name: value}))
        if any(p.startswith(name) for p in problems):
            figures.rejected += 1
        else:
            figures.accepted += 1
            figures.note(f"{name}={value!r} accepted")
    assert figures.accepted == 0, figures.notes


def test_an_api_key_list_is_covered(figures: Figures) -> None:
    """Secrets are found by type: the keys inside `WARDEN_API_KEYS` entries are secrets too
    (masked in what Warden shows), and a weak one stops production before anything starts."""
    from warden.redact import secret_fields

    strong = "Zx81Lq0Pw7Nm3Vb5Kt2Rr9Yy4Hh6Jj1Ff"
    settings = _production(WARDEN_API_KEYS=f"review:{strong}:read")
    assert ("WARDEN_API_KEYS[review]", strong) in list(secret_fields(settings))
    assert not [p for p in production_problems(settings) if p.startswith("WARDEN_API_KEYS")]
    try:
        _production(WARDEN_API_KEYS=f"detector:changeme:proposals,review:{strong}:read")
        caught = False
    except ValueError as exc:
        caught = "detector" in str(exc) and "changeme" not in str(exc)
    figures.tried, figures.rejected, figures.accepted = 1, int(caught), int(not caught)
    assert caught


def test_production_needs_a_real_enforcement_api(figures: Figures, tmp_path: Path) -> None:
    from tools.gateway import build_gateway
    from tools.store import Store

    cases = {
        "no API": _production(WARDEN_ENFORCEMENT_API_URL=None),
        "not a URL": _production(WARDEN_ENFORCEMENT_API_URL="local"),
        "no key": _production(WARDEN_ENFORCEMENT_API_KEY=None),
    }
    for settings in cases.values():
        figures.tried += 1
        with pytest.raises(ConfigError):
            require_production_ready(settings)
        figures.rejected += 1
    # The gateway factory refuses too, for anything that builds one without the check.
    store = Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        figures.tried += 1
        with pytest.raises(ConfigError, match="real enforcement API"):
            build_gateway(cases["no API"], store.engine)
        figures.rejected += 1
    finally:
        store.close()


def test_serve_refuses_before_contacting_slack_or_the_store(
    figures: Figures, tmp_path: Path
) -> None:
    """The real `warden serve --http` with a placeholder signing secret."""
    with HostileApi(lambda r: Reply(body={"ok": True, "team_id": "T1"})) as slack:
        env = {
            **os.environ,
            **GOOD,
            "WARDEN_ENV": "production",
            "SLACK_SIGNING_SECRET": "your-signing-secret",
            "SLACK_API_URL": slack.url + "/api/",
            "WARDEN_HOME": str(tmp_path / "home"),
        }
        done = subprocess.run(
            [sys.executable, "-c", "from warden.cli import main; main()", "serve", "--http",
             "--port", "0"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        contacted = len(slack.requests)
    figures.tried = 1
    refused = done.returncode == 2 and "SLACK_SIGNING_SECRET is a placeholder" in done.stderr
    figures.rejected = int(refused)
    figures.accepted = int(not refused)
    assert refused, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert contacted == 0 and not (tmp_path / "home" / "warden.db").exists()
