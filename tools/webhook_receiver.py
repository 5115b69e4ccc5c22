"""A reference webhook receiver: what a subscriber does with Warden's webhooks.

It refuses a stale or wrong signature (401), answers 400 to a body shorter than its
Content-Length (a sender killed mid-request cuts it; counted in `truncated`, not as a bad
signature), checks the event id header against the body, and
keeps every accepted delivery in `events` (a repeat keeps its event id, so `unique()` drops it).
The demo prints what it got; the tests use it on loopback (`fail` makes it answer 500).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.outbox import verify


class Receiver:
    def __init__(
        self,
        secret: str,
        *,
        port: int = 0,
        fail: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.secret = secret.encode()
        self.fail = fail or (lambda event: False)
        self.events: list[dict[str, Any]] = []
        self.refused_signatures = 0
        self.truncated = 0
        self.failed: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                expected = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(expected)
                if len(body) < expected:
                    with receiver._lock:
                        receiver.truncated += 1
                    self._answer(400)
                    return
                headers = {k: v for k, v in self.headers.items()}
                if not verify(receiver.secret, headers, body):
                    with receiver._lock:
                        receiver.refused_signatures += 1
                    self._answer(401)
                    return
                event = json.loads(body)
                if headers.get("X-Warden-Event-Id") != event["id"]:
                    self._answer(400)
                    return
                if receiver.fail(event):
                    with receiver._lock:
                        receiver.failed.append(event["id"])
                    self._answer(500)
                    return
                with receiver._lock:
                    receiver.events.append(event)
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def unique(self) -> list[dict[str, Any]]:
        """Accepted events without repeats (first delivery of each event id), in arrival order."""
        seen: set[str] = set()
        first: list[dict[str, Any]] = []
        with self._lock:
            for event in self.events:
                if event["id"] not in seen:
                    seen.add(event["id"])
                    first.append(event)
        return first
