"""A local stand-in for the Slack Web API: answers the methods Warden uses and records every call.

Responses follow the shapes of Slack's published OpenAPI description (the example responses of
`auth.test`, `chat.postMessage`, `chat.update`, ... in slack_web_openapi_v2.json). It runs on
loopback in a thread; point the app at it with `SLACK_API_URL=<standin.url>`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSONDict = dict[str, Any]


@dataclass
class Call:
    """One Web API call as the stand-in received it."""

    method: str
    args: JSONDict
    at: float
    status: int = 200


@dataclass
class _Fault:
    method: str
    remaining: int
    retry_after: int


@dataclass
class StandIn:
    """The Web API on 127.0.0.1. `calls` holds every request in arrival order."""

    bot_user_id: str = "UWARDENBOT"
    bot_id: str = "BWARDEN01"
    team_id: str = "T0WARDEN1"
    users: dict[str, str] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], JSONDict] = field(default_factory=dict)
    home_views: dict[str, JSONDict] = field(default_factory=dict)
    responses: list[JSONDict] = field(default_factory=list)
    # What `warden doctor` reads: the scopes granted to the token (None: the manifest's).
    scopes: list[str] | None = None
    # name -> id of the workspace's channels (conversations.list); names in `not_member` are
    # channels Warden was not invited to (posting there answers not_in_channel).
    channels: dict[str, str] = field(default_factory=dict)
    not_member: set[str] = field(default_factory=set)
    group_handles: dict[str, str] = field(default_factory=dict)  # subteam id -> handle
    reactions: list[JSONDict] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # method -> error it answers (tests)
    streams: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)  # channel names that are archived
    private: set[str] = field(default_factory=set)  # channel names that are private

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._faults: list[_Fault] = []
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                standin._serve(self)

            def do_GET(self) -> None:
                standin._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The Web API base URL (what SLACK_API_URL should be), with the trailing slash."""
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    # -- test helpers --------------------------------------------------------------------
    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and a Retry-After header."""
        with self._lock:
            self._faults.append(_Fault(method, times, retry_after))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[StandIn], bool], *, timeout: float = 20.0) -> bool:
        """Block until `predicate(self)` holds (re-checked on every call) or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.2))
        return True

    def thread(self, channel: str, thread_ts: str) -> list[JSONDict]:
        """The messages of one thread, oldest first (the parent included)."""
        with self._lock:
            found = [
                m
                for (ch, ts), m in self.messages.items()
                if ch == channel and (ts == thread_ts or m.get("thread_ts") == thread_ts)
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def add_message(
        self, channel: str, text: str, *, user: str, thread_ts: str | None = None
    ) -> str:
        """Record a message a person posted (so conversations.replies can return it)."""
        with self._lock:
            ts = self._next_ts()
            message: JSONDict = {"type": "message", "user": user, "text": text, "ts": ts}
            if thread_ts:
                message["thread_ts"] = thread_ts
            self.messages[(channel, ts)] = message
            return ts

    def dump_calls(self, path: Any) -> int:
        """Write every recorded call as JSONL ({"method", "args"}), token removed; return count."""
        from pathlib import Path

        with self._lock:
            calls = list(self.calls)
        with Path(path).open("w", encoding="utf-8") as out:
            for call in calls:
                args = {k: v for k, v in call.args.items() if k != "token"}
                out.write(json.dumps({"method": call.method, "args": args}) + "\n")
        return len(calls)

    # -- the server --------------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.{next(self._ids):06d}"

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        args = _parse_args(raw, request.headers.get("Content-Type", ""), parts.query)
        if parts.path.startswith("/respond/"):
            with self._lock:
                self.responses.append(args)
                self._lock.notify_all()
            _send(request, 200, {"ok": True})
            return
        method = parts.path.removeprefix("/api/")
        status, body, headers = self._answer(method, args, request.headers.get("Authorization"))
        with self._lock:
            self.calls.append(Call(method, args, time.time(), status))
            self._lock.notify_all()
        _send(request, status, body, headers)

    def _answer(
        self, method: str, args: JSONDict, auth: str | None
    ) -> tuple[int, JSONDict, dict[str, str]]:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.remaining > 0:
                    fault.remaining -= 1
                    return (
                        429,
                        {"ok": False, "error": "ratelimited"},
                        {"Retry-After": str(fault.retry_after)},
                    )
            token = args.get("token") or (auth or "").removeprefix("Bearer ").strip()
            if not str(token).startswith(("xoxb-", "xoxp-")):
                return 200, {"ok": False, "error": "not_authed"}, {}
            if method in self.refuse:
                return 200, {"ok": False, "error": self.refuse[method]}, {}
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}, {}
            result: JSONDict = handler(args)
            return 200, result, {"X-OAuth-Scopes": ",".join(self._granted())}

    def _granted(self) -> list[str]:
        if self.scopes is not None:
            return self.scopes
        from slackapp.doctor import manifest_scopes

        return manifest_scopes()

    def _m_auth_test(self, args: JSONDict) -> JSONDict:
        return {
            "ok": True,
            "url": "https://warden-demo.slack.com/",
            "team": "Warden Demo",
            "user": "warden",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel(self, channel: str) -> str:
        # Posting to a user id opens (or reuses) the DM with them; Slack answers with a D... id.
        return "D" + channel[1:] if channel.startswith(("U", "W")) else channel

    def _m_chat_postMessage(self, args: JSONDict) -> JSONDict:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        channel = self._channel(str(channel))
        if channel in {self.channels.get(n) for n in self.not_member}:
            return {"ok": False, "error": "not_in_channel"}
        if channel.startswith("#"):
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        message: JSONDict = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": self.bot_id,
            "user": self.bot_user_id,
            "text": args.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "thread_ts", "metadata", "reply_broadcast"):
            if args.get(key):
                message[key] = args[key]
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_getPermalink(self, args: JSONDict) -> JSONDict:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://warden-demo.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _m_chat_delete(self, args: JSONDict) -> JSONDict:
        key = (str(args.get("channel")), str(args.get("ts")))
        if self.messages.pop(key, None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": key[0], "ts": key[1]}

    # Chat streaming (chat.startStream / appendStream / stopStream, as slack_sdk's chat_stream
    # sends them): the message exists from the start and grows with each append.
    def _m_chat_startStream(self, args: JSONDict) -> JSONDict:
        channel = str(args.get("channel") or "")
        if not channel or not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        ts = self._next_ts()
        text = stream_text(args)
        self.messages[(channel, ts)] = {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": self.bot_id,
            "user": self.bot_user_id,
            "text": text,
            "ts": ts,
            "thread_ts": args["thread_ts"],
        }
        self.streams[(channel, ts)] = [text] if text else []
        return {"ok": True, "channel": channel, "ts": ts}

    def _m_chat_appendStream(self, args: JSONDict) -> JSONDict:
        key = (str(args.get("channel")), str(args.get("ts")))
        if key not in self.streams:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        chunk = stream_text(args)
        self.streams[key].append(chunk)
        self.messages[key]["text"] = "".join(self.streams[key])
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _m_chat_stopStream(self, args: JSONDict) -> JSONDict:
        key = (str(args.get("channel")), str(args.get("ts")))
        chunks = self.streams.pop(key, None)
        if chunks is None:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message = self.messages[key]
        chunks.append(stream_text(args))
        message["text"] = "".join(chunks)
        for name in ("blocks", "metadata"):
            if args.get(name):
                message[name] = args[name]
        return {"ok": True, "channel": key[0], "ts": key[1], "message": message}

    def _m_reactions_add(self, args: JSONDict) -> JSONDict:
        key = (str(args.get("channel")), str(args.get("timestamp")))
        if not args.get("name"):
            return {"ok": False, "error": "invalid_name"}
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.reactions.append({"channel": key[0], "ts": key[1], "name": args["name"]})
        return {"ok": True}

    def _m_reactions_remove(self, args: JSONDict) -> JSONDict:
        key = (str(args.get("channel")), str(args.get("timestamp")))
        for r in self.reactions:
            if (r["channel"], r["ts"], r["name"]) == (*key, args.get("name")):
                self.reactions.remove(r)
                return {"ok": True}
        return {"ok": False, "error": "no_reaction"}

    def _m_conversations_list(self, args: JSONDict) -> JSONDict:
        channels = [
            {
                "id": cid,
                "name": name,
                "name_normalized": name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_archived": name in self.archived,
                "is_private": name in self.private,
                "is_member": name not in self.not_member,
                "created": 1449252889,
            }
            for name, cid in sorted(self.channels.items())
        ]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_open(self, args: JSONDict) -> JSONDict:
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if len(users) != 1:
            return {"ok": False, "error": "not_enough_users" if not users else "too_many_users"}
        return {"ok": True, "channel": {"id": self._channel(users[0])}}

    def _m_chat_update(self, args: JSONDict) -> JSONDict:
        key = (str(args.get("channel")), str(args.get("ts")))
        message = self.messages.get(key)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        for name in ("text", "blocks"):
            if name in args:
                message[name] = args[name]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": key[0],
            "ts": key[1],
            "text": message.get("text", ""),
            "message": message,
        }

    def _m_chat_postEphemeral(self, args: JSONDict) -> JSONDict:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if str(args["channel"]) in {self.channels.get(n) for n in self.not_member}:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _view(self, view: Any, kind: str) -> JSONDict:
        if isinstance(view, str):
            view = json.loads(view)
        vid = f"V{next(self._ids):08d}"
        return {
            "id": vid,
            "team_id": self.team_id,
            "type": kind,
            "app_id": "AWARDEN01",
            "bot_id": self.bot_id,
            "hash": f"{int(time.time())}.{vid}",
            "root_view_id": vid,
            "previous_view_id": None,
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "external_id": "",
            **view,
        }

    def _m_views_open(self, args: JSONDict) -> JSONDict:
        if not args.get("trigger_id"):
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["invalid `trigger_id`"]},
            }
        return {"ok": True, "view": self._view(args.get("view") or {}, "modal")}

    def _m_views_publish(self, args: JSONDict) -> JSONDict:
        user = args.get("user_id")
        if not user:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["invalid `user_id`"]},
            }
        view = self._view(args.get("view") or {}, "home")
        self.home_views[str(user)] = view
        return {"ok": True, "view": view}

    def _m_users_info(self, args: JSONDict) -> JSONDict:
        uid = str(args.get("user") or "")
        if not uid:
            return {"ok": False, "error": "user_not_found"}
        name = self.users.get(uid, uid.lower())
        return {
            "ok": True,
            "user": {
                "id": uid,
                "team_id": self.team_id,
                "name": name,
                "real_name": name,
                "deleted": False,
                "is_bot": False,
                "is_admin": False,
                "tz": "Europe/London",
                "profile": {"display_name": name, "real_name": name},
            },
        }

    def _m_usergroups_list(self, args: JSONDict) -> JSONDict:
        groups = [
            {
                "id": gid,
                "team_id": self.team_id,
                "is_usergroup": True,
                "name": self.group_handles.get(gid, gid.lower()),
                "handle": self.group_handles.get(gid, gid.lower()),
                "user_count": str(len(members)),
                **(
                    {"users": list(members)}
                    if args.get("include_users") in (True, "true", "1")
                    else {}
                ),
            }
            for gid, members in sorted(self.usergroups.items())
        ]
        return {"ok": True, "usergroups": groups}

    def _m_views_update(self, args: JSONDict) -> JSONDict:
        if not args.get("view_id") and not args.get("external_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(args.get("view") or {}, "modal")}

    def _m_views_push(self, args: JSONDict) -> JSONDict:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(args.get("view") or {}, "modal")}

    def _m_usergroups_users_list(self, args: JSONDict) -> JSONDict:
        group = str(args.get("usergroup") or "")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _m_conversations_replies(self, args: JSONDict) -> JSONDict:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        found = [
            m
            for (ch, mts), m in self.messages.items()
            if ch == channel and (mts == ts or m.get("thread_ts") == ts)
        ]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        found.sort(key=lambda m: float(m["ts"]))
        return {"ok": True, "messages": found, "has_more": False}

    def _m_assistant_threads_setStatus(self, args: JSONDict) -> JSONDict:
        return {"ok": True}

    def _m_assistant_threads_setSuggestedPrompts(self, args: JSONDict) -> JSONDict:
        return {"ok": True}

    def _m_assistant_threads_setTitle(self, args: JSONDict) -> JSONDict:
        return {"ok": True}


def stream_text(args: JSONDict) -> str:
    """The markdown a chat streaming call carries (`markdown_text`, or markdown `chunks`)."""
    text = str(args.get("markdown_text") or "")
    chunks = args.get("chunks") or []
    return text + "".join(
        str(c.get("text") or "")
        for c in chunks
        if isinstance(c, dict) and c.get("type") == "markdown_text"
    )


def _parse_args(raw: bytes, content_type: str, query: str) -> JSONDict:
    args: JSONDict = dict(parse_qsl(query))
    if raw:
        if "json" in content_type:
            args.update(json.loads(raw))
        else:
            args.update(dict(parse_qsl(raw.decode("utf-8"))))
    for key in ("blocks", "view", "prompts", "metadata", "chunks"):
        value = args.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            args[key] = json.loads(value)
    return args


def _send(
    request: BaseHTTPRequestHandler,
    status: int,
    body: JSONDict,
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)
