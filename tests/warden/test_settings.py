"""Settings read lists from comma-separated variables and name missing secrets."""

from __future__ import annotations

import pytest

from warden.errors import ConfigError
from warden.settings import Settings


def test_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDEN_APPROVERS", "U1, U2")
    monkeypatch.setenv("WARDEN_POLICIES_DIRS", "/srv/policies,/srv/ads")
    settings = Settings()
    assert settings.approvers == ["U1", "U2"]
    assert [str(p) for p in settings.policies_dirs] == ["/srv/policies", "/srv/ads"]


def test_missing_slack_settings_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "changeme")
    assert Settings().missing_slack_settings(http=True) == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ]
    assert Settings().missing_slack_settings(http=False) == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]


def test_production_refuses_placeholder_llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDEN_ENV", "production")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "changeme")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        Settings().require_llm()


def test_default_database_is_sqlite_in_home(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WARDEN_DATABASE_URL", raising=False)
    monkeypatch.setenv("WARDEN_HOME", "/tmp/warden-home-x")
    assert Settings().db_url == "sqlite:////tmp/warden-home-x/warden.db"
