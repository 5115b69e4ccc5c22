"""HTTP mode: Bolt's ASGI adapter under uvicorn, behind a signature check that answers 401.

Stock Bolt answers 500 to some malformed requests (a non-numeric timestamp, a non-ASCII
signature). `VerifySlackSignature` sits in front of the adapter and rejects every request that
is not signed by Slack in the last five minutes with 401, before any Bolt code runs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from warden.metrics import SLACK_REFUSED

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 1_000_000  # Slack payloads are far smaller; refuse anything larger unread.
MAX_AGE_S = 300
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature, computed over the raw bytes.

    slack_sdk's SignatureVerifier decodes the body as UTF-8 first and raises on a body that is
    not (which became a 500); Slack signs bytes, so we sign and check bytes.
    """
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class VerifySlackSignature:
    """ASGI middleware: only requests Slack signed in the last 5 minutes reach the app."""

    def __init__(
        self,
        app: ASGIApp,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        health_path: str = "/healthz",
    ) -> None:
        self.app = app
        self.clock = clock
        self.health_path = health_path
        self._secret = signing_secret.encode()

    def check(self, body: bytes, headers: list[tuple[bytes, bytes]]) -> str | None:
        """Return why the request is refused, or None when Slack signed it."""
        found: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            found.setdefault(name.lower(), []).append(value)
        stamps = found.get(b"x-slack-request-timestamp", [])
        signatures = found.get(b"x-slack-signature", [])
        if len(stamps) != 1 or len(signatures) != 1:
            return "missing or repeated Slack signature headers"
        try:
            stamp = stamps[0].decode("ascii")
            signature = signatures[0].decode("ascii")
        except UnicodeDecodeError:
            return "signature headers are not ASCII"
        if not _TIMESTAMP.fullmatch(stamp) or not _SIGNATURE.fullmatch(signature):
            return "malformed signature headers"
        if abs(self.clock() - int(stamp)) > MAX_AGE_S:
            return "stale request timestamp"
        if not hmac.compare_digest(sign(self._secret, stamp, body), signature):
            return "signature mismatch"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET" and scope["path"] == self.health_path:
            await _respond(send, 200, "ok")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                SLACK_REFUSED.inc()
                await _respond(send, 413, "request body too large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        reason = self.check(body, list(scope.get("headers", [])))
        if reason is not None:
            SLACK_REFUSED.inc()
            await _respond(send, 401, f"unauthorized: {reason}")
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def build_asgi(
    bolt_app: Any, signing_secret: str, *, path: str = "/slack/events", dispatch_threads: int = 16
) -> ASGIApp:
    """Bolt's ASGI adapter, dispatching in worker threads, behind the signature check.

    Dispatch is short (listeners only queue work), so a few threads suffice; more threads
    only fight over the interpreter lock (measured with slackapp.loadcheck: 250 concurrent
    requests acked faster with 8-16 threads than with 64). 16 leaves room for the few
    listeners that wait on Slack (views.open for the reject modal).
    """
    import anyio
    from slack_bolt.adapter.asgi import SlackRequestHandler
    from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
    from slack_bolt.error import BoltError
    from slack_bolt.request import BoltRequest
    from slack_bolt.response import BoltResponse

    from slackapp.boundary import malformed

    limiter = anyio.CapacityLimiter(dispatch_threads)

    class ThreadedHandler(SlackRequestHandler):
        # The stock adapter calls the synchronous App.dispatch on the event loop, so one slow
        # listener (a views.open round trip) would stall every other request's ack.
        async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
            try:
                bolt_request = BoltRequest(
                    body=await request.get_raw_body(),
                    query=request.query_string,
                    headers=request.get_headers(),
                )
            except (ValueError, BoltError):  # signed, but not UTF-8 JSON or form data
                return BoltResponse(status=400, body="malformed request body")
            # Checked before Bolt: Bolt's own middleware plumbing raises (HTTP 500) on some
            # malformed payloads before any middleware of ours could answer 400.
            body = bolt_request.body
            problem = malformed(body) if isinstance(body, dict) else "a body that is not an object"
            if problem is not None:
                return BoltResponse(status=400, body=f"malformed request: {problem}")
            return await anyio.to_thread.run_sync(self.app.dispatch, bolt_request, limiter=limiter)

    handler = ThreadedHandler(bolt_app, path=path)
    return VerifySlackSignature(handler, signing_secret)  # type: ignore[arg-type]


def with_api(slack: ASGIApp, api: ASGIApp | None, *, prefix: str = "/api/") -> ASGIApp:
    """Serve the JSON API (its own auth) under `prefix` beside the Slack endpoints, one port."""
    if api is None:
        return slack

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(prefix):
            await api(scope, receive, send)
        else:
            await slack(scope, receive, send)

    return dispatch


@dataclass
class RunningServer:
    """A uvicorn server running in a background thread (tests, the demo, loadcheck)."""

    server: Any
    thread: threading.Thread
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_in_thread(asgi: ASGIApp, *, port: int = 0, host: str = "127.0.0.1") -> RunningServer:
    """Start uvicorn on a (free, by default) loopback port and wait until it accepts requests."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        asgi, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 20 s")
        time.sleep(0.02)
    return RunningServer(server, thread, sock.getsockname()[1])


def serve(asgi: ASGIApp, *, host: str, port: int) -> None:
    """Run the production server in the foreground until interrupted."""
    import uvicorn

    uvicorn.run(asgi, host=host, port=port, log_level="info", lifespan="off")
