"""A local OpenAI-compatible stand-in: POST /v1/chat/completions answers scripted replies.

Runs a real HTTP server on 127.0.0.1 in a thread, so the real `ChatOpenAI` client (and the
`openai` SDK under it) is exercised end to end. Each script item is a `Reply`: text content, a
JSON body (what a model returns for JSON-schema structured output), tool calls, an HTTP error
status, or a delay (to trigger client timeouts). Every request body is recorded, and usage is
reported with a deterministic token count so tests can check Warden's accounting.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = None
    json_body: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    finish_reason: str = "stop"
    error: str | None = None
    """The error message of a non-200 reply (e.g. one naming `response_format`)."""


def count_tokens(body: dict[str, Any]) -> int:
    """Whitespace words over every text part of every message (deterministic, not tiktoken)."""
    total = 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    total += len(str(part.get("text", "")).split())
    return total


def hash_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector; no model needed)."""
    import hashlib
    import math

    digest = b""
    counter = 0
    while len(digest) < dimensions:
        digest += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    raw = [b / 255.0 - 0.5 for b in digest[:dimensions]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class OpenAIStandIn:
    """Start with `with OpenAIStandIn() as server:`; `server.base_url` ends in /v1.

    POST /v1/embeddings answers `hash_vector` embeddings of `embedding_dimensions`.
    """

    def __init__(self, *, embedding_dimensions: int = 16) -> None:
        self.embedding_dimensions = embedding_dimensions
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.usages: list[dict[str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def enqueue(self, *replies: Reply) -> OpenAIStandIn:
        with self._lock:
            self.script.extend(replies)
        return self

    def __enter__(self) -> OpenAIStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            self.requests.append(body)
            reply = self.script.pop(0) if self.script else None
        if reply is None:
            return 500, {"error": {"message": "stand-in: no scripted reply left"}}, 0.0
        if reply.status != 200:
            message = reply.error or f"scripted {reply.status}"
            return reply.status, {"error": {"message": message}}, reply.delay_s
        content = reply.content
        if reply.json_body is not None:
            content = json.dumps(reply.json_body)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
                }
                for i, call in enumerate(reply.tool_calls)
            ]
        prompt = count_tokens(body)
        completion = max(1, len((content or "").split()))
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        with self._lock:
            self.usages.append(usage)
        return (
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stand-in"),
                "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
                "usage": usage,
            },
            reply.delay_s,
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") == "/v1/embeddings":
                    body = json.loads(raw or b"{}")
                    texts = body.get("input") or []
                    texts = [texts] if isinstance(texts, str) else texts
                    data = [
                        {
                            "object": "embedding",
                            "index": i,
                            "embedding": hash_vector(str(t), outer.embedding_dimensions),
                        }
                        for i, t in enumerate(texts)
                    ]
                    self._send(200, {"object": "list", "data": data, "model": body.get("model")})
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                status, payload, delay = outer._next(json.loads(raw or b"{}"))
                if delay:
                    time.sleep(delay)
                self._send(status, payload)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away; that is the point of a delay

        return Handler
