"""Who the command line acts as: the OS user through WARDEN_OPERATORS, never an argument."""

from __future__ import annotations

import re

import pytest

from warden.errors import ConfigError
from warden.identity import SettingsDirectory, cli_operator, refuse_cli_approval
from warden.settings import Settings, get_settings


def test_operators_and_groups_parse_and_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        WARDEN_OPERATORS="ana=UANA00001, ben = UBEN00001",
        WARDEN_REVIEWER_GROUPS="critical-harms=UANA00001+UBEN00001,integrity=UCAT00001",
    )
    assert settings.operators == {"ana": "UANA00001", "ben": "UBEN00001"}
    monkeypatch.setenv("LOGNAME", "ben")
    assert cli_operator(settings) == "UBEN00001"
    directory = SettingsDirectory(settings)
    assert directory.members("critical-harms") == {"UANA00001", "UBEN00001"}
    assert directory.members("not-configured") == set()


def test_unmapped_user_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "mallory")
    with pytest.raises(ConfigError, match="add mallory=<Slack user id> to WARDEN_OPERATORS"):
        cli_operator(Settings(WARDEN_OPERATORS="ana=UANA00001"))


def test_production_cli_cannot_approve() -> None:
    refuse_cli_approval(Settings(WARDEN_ENV="development"))
    with pytest.raises(ConfigError, match="in Slack only"):
        refuse_cli_approval(Settings(WARDEN_ENV="production"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WARDEN_OPERATORS", "ana=not-an-id", "must be osuser=U123"),
        ("WARDEN_OPERATORS", "UANA00001", "must be osuser=U123"),
        ("WARDEN_REVIEWER_GROUPS", "pod=UANA00001+<!channel>", "must be group=U1+U2"),
    ],
)
def test_bad_identities_are_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        expected = f"Invalid configuration: {name}.*{re.escape(message)}"
        with pytest.raises(ConfigError, match=expected):
            get_settings()
    finally:
        get_settings.cache_clear()
