"""`/healthz`, `/readyz` and `/metrics`: on the HTTP server, or on their own port in Socket Mode.

- `/healthz` answers 200 while the process serves requests (liveness: restart when it stops).
- `/readyz` answers 200 when the store, the policy index and Slack answer, else 503 with the
  failing checks (readiness: send no traffic to this replica meanwhile). The checks are the
  doctor's own (`tools.doctor`, `knowledge.doctor`, `slackapp.doctor`), cached for a few
  seconds so a probe every second costs Slack one `auth.test` per `ttl_s`.
- `/metrics` is the Prometheus text exposition: the process's counters and histograms
  (`warden.metrics`) plus gauges read from the store at scrape time (`tools.metrics`).

None of them needs a Slack signature, so they sit in front of the signature check.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from slackapp.http import ASGIApp, Receive, Scope, Send, _respond
from warden.doctor import Check, fail

if TYPE_CHECKING:
    from warden.settings import Settings

READY_TTL_S = 5.0
PROBE_TIMEOUT_S = 5.0


class Probes:
    """Readiness and metrics over the clients the app was built with."""

    def __init__(
        self, settings: Settings, store: Any, client: Any, *, ttl_s: float = READY_TTL_S
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.ttl_s = ttl_s
        self._chroma: Any = None
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Check]] | None = None

    def _index(self) -> Check:
        from knowledge.doctor import chroma_check, open_index

        if self._chroma is None:
            from knowledge.index import build_chroma_client

            self._chroma = build_chroma_client(self.settings)
        alive = chroma_check(self.settings, self._chroma)
        return alive if alive.failed else open_index(self.settings, self._chroma)[1]

    def _check(self) -> list[Check]:
        from slackapp.doctor import auth_check
        from tools.doctor import database_check

        checks = [database_check(self.store.engine, self.settings.db_url)]
        try:
            checks.append(self._index())
        except Exception as exc:  # a probe reports, never raises
            checks.append(fail("index", f"{type(exc).__name__}: {exc}", "run `warden doctor`"))
        checks.append(auth_check(self.settings, self.client)[0])
        return checks

    def ready(self) -> list[Check]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl_s:
                return self._cached[1]
        checks = self._check()
        with self._lock:
            self._cached = (time.monotonic(), checks)
        return checks

    def metrics(self) -> tuple[bytes, str]:
        from tools.metrics import StoreCollector
        from warden.metrics import exposition

        return exposition([StoreCollector(self.store)])


async def _send_body(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def with_probes(app: ASGIApp, probes: Probes) -> ASGIApp:
    """Answer GET /healthz, /readyz and /metrics; pass every other request to `app`."""
    import anyio

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await app(scope, receive, send)
            return
        path = scope.get("path")
        if path == "/healthz":
            await _respond(send, 200, "ok")
        elif path == "/readyz":
            checks = await anyio.to_thread.run_sync(probes.ready)
            failed = any(c.failed for c in checks)
            text = "\n".join(c.line() for c in checks) + "\n"
            await _respond(send, 503 if failed else 200, text)
        elif path == "/metrics":
            body, content_type = await anyio.to_thread.run_sync(probes.metrics)
            await _send_body(send, 200, body, content_type)
        else:
            await app(scope, receive, send)

    return asgi


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await _respond(send, 404, "not found: this port serves /healthz, /readyz and /metrics")


def probes_only(probes: Probes) -> ASGIApp:
    """The health port of Socket Mode: the three probes and nothing else."""
    return with_probes(_not_found, probes)
