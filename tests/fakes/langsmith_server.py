"""A local stand-in for the LangSmith API: records every request body a tracing client sends.

Runs a real HTTP server on 127.0.0.1 in a thread, so the real `langsmith.Client` (batched or
multipart ingestion, whatever it chooses) is exercised end to end; tests read `bodies` to see
exactly what would have left the process.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LangSmithStandIn:
    """Start with `with LangSmithStandIn() as server:`; point LANGSMITH_ENDPOINT at `url`."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def sent(self) -> bytes:
        with self._lock:
            return b"\n".join(self.bodies)

    def __enter__(self) -> LangSmithStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                # /info: no batch or compression features, so the client sends plain bodies.
                self._reply(200, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer._lock:
                    outer.paths.append(self.path)
                    outer.bodies.append(body)
                self._reply(200, {})

            do_PATCH = do_POST

        return Handler
