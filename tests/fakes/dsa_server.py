"""A local stand-in for the EU DSA Transparency Database API, on 127.0.0.1 in a thread.

It answers as the database does: bearer token or 401; `POST /api/v1/statements` (1..100
statements) validated with the database's rules (`tools.dsa.api_errors`): any refusal is
422 with `errors.statement_<i>` and nothing is stored; a puid the platform already filed (or
repeated in the call) is 422 with `errors.existing_puids`; otherwise 201 with each statement
and its new `uuid`. `POST /api/v1/statement` files one. Faults can be scripted per request:
"503", "429", "reset" (drop the connection) and "500_after_store" (store, then fail the reply:
the client cannot know it landed).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tools.dsa import MAX_BATCH, api_errors, error_message

TOKEN = "dsa-test-token"
NOT_UNIQUE_MULTI = "The platform identifier(s) are not all unique within this call."
NOT_UNIQUE_SINGLE = "The identifier given is not unique within this platform."


class DsaStandIn:
    def __init__(self, token: str = TOKEN, faults: list[str | None] | None = None) -> None:
        self.token = token
        self.faults = list(faults or [])
        self.stored: dict[str, dict[str, Any]] = {}  # puid -> statement as filed
        self.requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/api/v1"

    def __enter__(self) -> DsaStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            return self.faults.pop(0) if self.faults else None

    def _store(self, statements: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            puids = [s.get("puid") for s in statements]
            seen: set[object] = set()
            duplicates = []
            for puid in puids:
                if puid in self.stored or puid in seen:
                    duplicates.append(puid)
                seen.add(puid)
            if duplicates:
                return 422, {
                    "message": NOT_UNIQUE_MULTI,
                    "errors": {"puid": [NOT_UNIQUE_MULTI], "existing_puids": duplicates},
                }
            now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
            out = []
            for statement in statements:
                filed = {**statement, "uuid": str(uuid.uuid4()), "created_at": now}
                filed["platform_name"] = "Warden test platform"
                self.stored[statement["puid"]] = filed
                out.append(filed)
            return 201, {"statements": out}

    def _batch(self, body: Any) -> tuple[int, dict[str, Any]]:
        statements = body.get("statements") if isinstance(body, dict) else None
        if not isinstance(statements, list) or not 1 <= len(statements) <= MAX_BATCH:
            message = (
                "The statements field is required."
                if not statements
                else f"The statements field must have between 1 and {MAX_BATCH} items."
            )
            return 422, {"message": message, "errors": {"statements": [message]}}
        errors = {}
        for index, statement in enumerate(statements):
            found = api_errors(statement if isinstance(statement, dict) else {})
            if found:
                errors[f"statement_{index}"] = found
        if errors:
            return 422, {"errors": errors}
        return self._store(statements)

    def _single(self, body: Any) -> tuple[int, dict[str, Any]]:
        statement = body if isinstance(body, dict) else {}
        if errors := api_errors(statement):
            return 422, {"message": error_message(errors), "errors": errors}
        if statement["puid"] in self.stored:
            return 422, {
                "message": NOT_UNIQUE_SINGLE,
                "errors": {"puid": [NOT_UNIQUE_SINGLE]},
                "existing": {"puid": statement["puid"]},
            }
        status, out = self._store([statement])
        return status, out["statements"][0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def _reset(self) -> None:
                # SO_LINGER 0: close with RST, as a dropped connection looks to the client.
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                self.close_connection = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.headers.get("Authorization") != f"Bearer {stand_in.token}":
                    self._reply(401, {"message": "Unauthenticated."})
                    return
                fault = stand_in._next_fault()
                if fault == "reset":
                    self._reset()
                    return
                if fault in ("503", "429"):
                    self._reply(int(fault), {"message": "Service unavailable, try again."})
                    return
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    self._reply(400, {"message": "The body is not JSON."})
                    return
                if self.path.rstrip("/") == "/api/v1/statements":
                    status, out = stand_in._batch(body)
                elif self.path.rstrip("/") == "/api/v1/statement":
                    status, out = stand_in._single(body)
                else:
                    self._reply(404, {"message": "Not found."})
                    return
                if fault == "500_after_store":
                    self._reply(500, {"message": "Server Error"})
                    return
                self._reply(status, out)

        return Handler
