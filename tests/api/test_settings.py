"""WARDEN_API_KEYS and WARDEN_WEBHOOKS: parsed strictly, keys never echoed, production refuses
short or placeholder keys and secrets; the gates file's detector entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.gates import GateMode, load_gates
from warden.errors import ConfigError
from warden.integrations import Scope, parse_api_keys
from warden.settings import Settings, get_settings

STRONG = "Zq8v1Jt0cX2mN5rB7kW9yH4dL6pS3aF0"


def test_keys_parse_with_scopes() -> None:
    keys = parse_api_keys(f"detector:{STRONG}:proposals+read, intake:k2:cases")
    assert [(k.name, sorted(k.scopes)) for k in keys] == [
        ("detector", [Scope.PROPOSALS, Scope.READ]),
        ("intake", [Scope.CASES]),
    ]
    assert STRONG not in repr(keys)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("detector:k1", "must be NAME:KEY:SCOPE"),
        ("detector:k1:admin", "unknown scope"),
        ("detector:k1:", "grants no scope"),
        ("a:k1:read,a:k2:read", "names must be unique"),
        ("a:k1:read,b:k1:read", "share one key"),
        ("bad name:k1:read", "the name must be"),
    ],
)
def test_bad_keys_are_one_clear_error_without_the_key(
    value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARDEN_API_KEYS", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=message) as raised:
            get_settings()
        assert "k1" not in str(raised.value) and "k2" not in str(raised.value)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    "key", ["short-key", "changeme-" + "x" * 40, "placeholder" + "y" * 30, "Example" + "z" * 30]
)
def test_production_refuses_short_or_placeholder_keys(key: str) -> None:
    with pytest.raises(ValueError, match="production needs a random key"):
        Settings(WARDEN_ENV="production", WARDEN_API_KEYS=f"detector:{key}:proposals")
    assert Settings(WARDEN_API_KEYS=f"detector:{key}:proposals").api_keys  # development: allowed
    assert Settings(WARDEN_ENV="production", WARDEN_API_KEYS=f"d:{STRONG}:read").api_keys


def test_webhook_subscribers_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = [{"name": "ledger", "url": "https://hooks.example.org/w", "secret": "s" * 10,
              "events": ["action.applied", "proposal.approved"]}]  # fmt: skip
    monkeypatch.setenv("WARDEN_WEBHOOKS", json.dumps(hooks))
    assert [w.name for w in Settings().webhooks] == ["ledger"]
    with pytest.raises(ValueError, match="secret of ledger"):
        Settings(WARDEN_ENV="production")
    monkeypatch.setenv("WARDEN_WEBHOOKS", json.dumps([{**hooks[0], "events": ["coffee.made"]}]))
    with pytest.raises(ValueError, match="events"):
        Settings()


def test_detector_entries_narrow_their_policy(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(
        "detectors:\n"
        "  hashmatch: {'*': {mode: shadow}}\n"
        "  hashmatch@3: {HA-2.1: {mode: off, max_batch_size: 5}}\n"
    )
    gates = load_gates(path)
    assert gates.detector_rule("hashmatch@3", "HA-2.1").mode is GateMode.OFF  # type: ignore[union-attr]
    assert gates.detector_rule("hashmatch@3", "HA-2.2").mode is GateMode.SHADOW  # type: ignore[union-attr]
    assert gates.detector_rule("hashmatch@2", "HA-2.1").mode is GateMode.SHADOW  # type: ignore[union-attr]
    assert gates.detector_rule("other@1", "HA-2.1") is None
