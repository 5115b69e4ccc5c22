"""A hostile enforcement API on 127.0.0.1: every reply is scripted, down to the bytes and pace.

`HostileApi(reply)` calls `reply(request)` for each request (path, headers, parsed JSON body) and
sends back what it returns: any status, headers and body, optionally one byte at a time with a
pause (`trickle_s`), headers included, the way a slow-loris server holds a client open.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.0  # pause before each byte of the whole response
    declared_length: int | None = None  # a Content-Length that is not the body's


class HostileApi:
    """Start with `with HostileApi(reply) as api:`; `api.url` is its base URL."""

    def __init__(self, reply: Callable[[Request], Reply]) -> None:
        self.reply = reply
        self.requests: list[Request] = []
        self.stopped = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> HostileApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._thread.join(timeout=10)
        self._sock.close()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split()[1]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                rest += chunk
            request = Request(path, headers, json.loads(rest) if rest else None)
            self.requests.append(request)
            reply = self.reply(request)
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            length_header = (
                reply.declared_length if reply.declared_length is not None else len(body)
            )
            out = [f"HTTP/1.1 {reply.status} Hostile", f"Content-Length: {length_header}"]
            out += ["Content-Type: application/json", "Connection: close"]
            out += [f"{k}: {v}" for k, v in reply.headers.items()]
            raw = ("\r\n".join(out) + "\r\n\r\n").encode() + body
            try:
                if not reply.trickle_s:
                    conn.sendall(raw)
                    return
                for i in range(len(raw)):
                    if self.stopped.wait(reply.trickle_s):
                        return
                    conn.sendall(raw[i : i + 1])
            except OSError:
                return  # the client gave up: what a deadline is for


def receipt_for(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A well-formed receipt for one requested item, with `changes` applied."""
    receipt = {
        "idempotency_key": item["idempotency_key"],
        "receipt_id": f"ext-{item['idempotency_key'][-12:]}",
        "target_type": item["target_type"],
        "target_id": item["target_id"],
        "action": item["action"],
        "applied_at": "2026-01-01T00:00:00+00:00",
    }
    return {**receipt, **changes}
