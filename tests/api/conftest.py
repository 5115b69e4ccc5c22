"""A real API server on loopback (uvicorn in a thread) over a fresh store, and its callers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import build_api
from knowledge.catalogue import Catalogue
from slackapp.http import RunningServer, start_in_thread
from tools.detectors import Submitted
from tools.gates import Gates, load_gates
from tools.store import Store
from warden.integrations import parse_api_keys

# Distinctive fakes: a test checks none of them reaches a log line or an audit row.
DETECTOR_KEY = "i17-FAKE-detector-key-6f1c0e9a4b"
INTAKE_KEY = "i17-FAKE-intake-key-91b7d2c3aa"
READER_KEY = "i17-FAKE-reader-key-0c8e5d7f12"
ALL_KEY = "i17-FAKE-all-scopes-key-55aa3c"
KEYS = ",".join(
    [
        f"detector:{DETECTOR_KEY}:proposals+read",
        f"intake:{INTAKE_KEY}:cases",
        f"reader:{READER_KEY}:read",
        f"ops:{ALL_KEY}:cases+proposals+appeals+read",
    ]
)
FAKE_KEYS = (DETECTOR_KEY, INTAKE_KEY, READER_KEY, ALL_KEY)
MAX_BODY = 64_000
GATES = """
defaults: {mode: shadow, min_support: 5, min_precision: 0.9}
policies:
  SP: {mode: shadow, max_batch_size: 20}
  CS: {mode: "off"}
detectors:
  burstpost-beta: {"*": {mode: shadow}}
  burstpost: {SP-2.1: {max_batch_size: 10}}
"""


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Notified:
    """The notifier the Slack app would be: records what it was asked to post."""

    cards: list[Submitted] = field(default_factory=list)

    def proposal_created(self, submitted: Submitted) -> None:
        self.cards.append(submitted)


@dataclass
class Api:
    server: RunningServer
    http: httpx.Client
    store: Store
    gates: Gates
    notified: Notified

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def post(self, path: str, body: Any, key: str = ALL_KEY, **headers: str) -> httpx.Response:
        return self.http.post(self.url + path, json=body, headers={**bearer(key), **headers})

    def get(self, path: str, key: str = ALL_KEY, **params: Any) -> httpx.Response:
        return self.http.get(self.url + path, headers=bearer(key), params=params)


def serve_api(store: Store, catalogue: Catalogue, gates_path: Path) -> Iterator[Api]:
    gates = load_gates(gates_path)
    notified = Notified()
    asgi = build_api(
        store=store,
        catalogue=catalogue,
        gates=gates,
        keys=parse_api_keys(KEYS),
        notifier=notified,
        max_body_bytes=MAX_BODY,
    )
    server = start_in_thread(asgi)
    try:
        with httpx.Client(timeout=30) as http:
            yield Api(server, http, store, gates, notified)
    finally:
        server.stop()


@pytest.fixture
def gates_path(tmp_path: Path) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(GATES)
    return path


@pytest.fixture
def api(store: Store, catalogue: Catalogue, gates_path: Path) -> Iterator[Api]:
    """The API over a store on SQLite and on Postgres."""
    yield from serve_api(store, catalogue, gates_path)


@pytest.fixture
def sqlite_api(sqlite_store: Store, catalogue: Catalogue, gates_path: Path) -> Iterator[Api]:
    yield from serve_api(sqlite_store, catalogue, gates_path)


def case_body(
    case_id: str = "C-api-1", *, n_items: int = 1, author: str = "acct-1"
) -> dict[str, Any]:
    return {
        "id": case_id,
        "opened_at": "2026-11-20T10:00:00Z",
        "source": "user_report",
        "items": [
            {"id": f"{case_id}-item-{i}", "author_id": author, "text": f"buy now item {i}"}
            for i in range(n_items)
        ],
        "reports": [{"reporter_id": "rep-1", "reason": "spam"}],
        "signals": {"spam_classifier": 0.97},
        "policy_id": "SP",
    }


def submission(
    n: int = 3,
    *,
    detector: str = "burstpost",
    section: str = "SP-2.1",
    prefix: str = "sp-api",
    action: str | None = "remove",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "detector": {"name": detector, "version": "2.1.0"},
        "section_id": section,
        "description": "identical promo links posted in bursts",
        "targets": [
            {
                "content_id": f"{prefix}-{i}",
                "evidence": f"same link as 30 other posts within the hour ({i})",
                "score": 0.99,
                "item": {"id": f"{prefix}-{i}", "author_id": f"spammer-{i % 2}", "text": "promo"},
            }
            for i in range(n)
        ],
        **extra,
    }
    if action is not None:
        body["action"] = action
    return body


def open_gate(store: Store, gates: Gates, policy: str = "SP") -> None:
    """Store a passing evaluation for `policy` and switch its gate to propose (the real check)."""
    from ops.evaluate import evaluate, save_run
    from tests.ops.conftest import keyword_recommender
    from tests.ops.test_gates import labelled
    from tools.gates import GateMode, set_mode

    run = evaluate(
        labelled(6, 4, "buynow", policy),
        keyword_recommender({"buynow": policy}),
        dataset="api-test.jsonl",
        mapping="warden",
        mode="rules",
    )
    save_run(store, run)
    set_mode(store, gates, policy, GateMode.PROPOSE, actor="UOWNER")
