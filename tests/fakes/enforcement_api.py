"""A local stand-in for an enforcement API, on 127.0.0.1 in a thread, that injects faults.

It speaks what `tools.gateway.HttpGateway` expects (`POST /v1/actions` with an
`Idempotency-Key` header, `POST /v1/actions/batch` with a key per item), dedupes by key, counts
every delivery, and fails on purpose: timeouts, 5xx, 429 with Retry-After, connection resets
and duplicate deliveries - some of them AFTER applying, the case that tests idempotency.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Fault names. "*_after_apply" faults apply the action first and then fail the reply, so the
# client cannot know that it landed: only the idempotency key prevents a second application.
TIMEOUT_AFTER_APPLY = "timeout_after_apply"
ERROR_500_AFTER_APPLY = "500_after_apply"
ERROR_503 = "503"
RATE_LIMITED = "429"
RESET_BEFORE = "reset_before"
RESET_AFTER_APPLY = "reset_after_apply"
DUPLICATE_DELIVERY = "duplicate_delivery"
FAULTS = (
    TIMEOUT_AFTER_APPLY,
    ERROR_500_AFTER_APPLY,
    ERROR_503,
    RATE_LIMITED,
    RESET_BEFORE,
    RESET_AFTER_APPLY,
    DUPLICATE_DELIVERY,
)
ACTIONS = {"label", "limit_distribution", "remove", "strike", "suspend"}


@dataclass
class FaultPlan:
    """Which fault each request gets: a script first, then random faults at `rate`."""

    script: list[str | None] = field(default_factory=list)
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULTS
    seed: int = 7
    stall_s: float = 0.5
    retry_after: str = "0"

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def next(self) -> str | None:
        with self._lock:
            if self.script:
                return self.script.pop(0)
            if self.rate and self._random.random() < self.rate:
                return self._random.choice(self.kinds)
            return None


class EnforcementApiStandIn:
    """Start with `with EnforcementApiStandIn(...) as api:`; `api.url` is its base URL."""

    def __init__(self, *, token: str = "test-token", faults: FaultPlan | None = None) -> None:
        self.token = token
        self.faults = faults or FaultPlan()
        self.lock = threading.Lock()
        self.applied: dict[str, dict[str, Any]] = {}  # idempotency key -> first receipt
        self.applications: Counter[str] = Counter()  # key -> times the effect was applied
        self.deliveries: Counter[str] = Counter()  # key -> times the key reached us
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> EnforcementApiStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def duplicated(self) -> int:
        """Effects applied more than once (must stay 0)."""
        return sum(n - 1 for n in self.applications.values() if n > 1)

    @property
    def redelivered(self) -> int:
        """Deliveries beyond the first per key (expected under faults; each answered by dedupe)."""
        return sum(n - 1 for n in self.deliveries.values() if n > 1)

    def deliver(self, key: str, item: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply one item once per key; a replay returns the first receipt."""
        if item.get("action") not in ACTIONS or item.get("target_type") not in {
            "content",
            "account",
        }:
            return 422, {"idempotency_key": key, "error": f"bad action or target in {item}"}
        if str(item.get("target_id", "")).startswith("missing-"):
            return 404, {"idempotency_key": key, "error": f"unknown target {item['target_id']}"}
        with self.lock:
            self.deliveries[key] += 1
            if key in self.applied:
                return 200, {**self.applied[key], "replayed": True}
            receipt = {
                "idempotency_key": key,
                "receipt_id": f"ext-{uuid.uuid4().hex}",
                "target_type": item["target_type"],
                "target_id": item["target_id"],
                "action": item["action"],
                "applied_at": datetime.now(UTC).isoformat(),
                "replayed": False,
            }
            self.applied[key] = receipt
            self.applications[key] += 1
            return 201, receipt


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # resets are injected on purpose; their tracebacks are noise


def _handler_for(api: EnforcementApiStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real API behind a load balancer

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet test output

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            with api.lock:
                api.requests += 1
            if self.headers.get("Authorization") != f"Bearer {api.token}":
                self._send(401, {"error": "bad or missing bearer token"})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {"error": "body is not JSON"})
                return
            fault = api.faults.next()
            if fault:
                with api.lock:
                    api.injected[fault] += 1
            if fault == RESET_BEFORE:
                self._reset()
                return
            if fault == ERROR_503:
                self._send(503, {"error": "unavailable"})
                return
            if fault == RATE_LIMITED:
                self._send(429, {"error": "slow down"}, {"Retry-After": api.faults.retry_after})
                return
            status, reply = self._apply(body)
            if fault == DUPLICATE_DELIVERY:
                status, reply = self._apply(body)  # an at-least-once queue delivered it twice
            if fault == RESET_AFTER_APPLY:
                self._reset()
                return
            if fault == ERROR_500_AFTER_APPLY:
                self._send(500, {"error": "internal error after the write"})
                return
            if fault == TIMEOUT_AFTER_APPLY:
                time.sleep(api.faults.stall_s)
            self._send(status, reply)

        def _apply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            if self.path == "/v1/actions":
                key = self.headers.get("Idempotency-Key")
                if not key:
                    return 400, {"error": "Idempotency-Key header is required"}
                return api.deliver(key, body)
            if self.path == "/v1/actions/reverse":  # undo an applied action (an appeal)
                key = self.headers.get("Idempotency-Key")
                if not key:
                    return 400, {"error": "Idempotency-Key header is required"}
                return api.deliver(key, body)
            if self.path == "/v1/actions/batch":
                results = []
                for item in body.get("items", []):
                    _status, reply = api.deliver(str(item.get("idempotency_key")), item)
                    results.append(reply)
                return 200, {"results": [_batch_result(r) for r in results]}
            return 404, {"error": f"no route {self.path}"}

        def _send(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client gave up (timeout) first

        def _reset(self) -> None:
            # SO_LINGER 0 turns close() into a TCP RST, which is what a dying proxy sends.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def finish(self) -> None:
            with contextlib.suppress(OSError, ValueError):  # the socket was reset on purpose
                super().finish()

    return Handler


def _batch_result(reply: dict[str, Any]) -> dict[str, Any]:
    if "error" in reply:
        return {"idempotency_key": reply["idempotency_key"], "error": reply["error"]}
    key = reply["idempotency_key"]
    return {"idempotency_key": key, "receipt": reply}
