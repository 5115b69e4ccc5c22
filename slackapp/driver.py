"""Sign and post events, slash commands and interactions to the app exactly the way Slack does."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from slackapp.http import sign

JSONDict = dict[str, Any]
Prepared = tuple[bytes, dict[str, str]]


class SlackDriver:
    """Plays Slack's side of the HTTP protocol against one app endpoint."""

    def __init__(
        self,
        endpoint: str,
        signing_secret: str,
        *,
        team_id: str = "T0WARDEN1",
        api_app_id: str = "AWARDEN01",
        response_url_base: str | None = None,
        timeout: float = 30.0,
        max_connections: int = 100,
    ) -> None:
        self.endpoint = endpoint
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.response_url_base = response_url_base or "http://127.0.0.1:9/respond/"
        self._secret = signing_secret.encode()
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.Client(timeout=timeout, limits=limits)
        self._seq = itertools.count(1)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SlackDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level ---------------------------------------------------------------------
    def signed_headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(self._secret, ts, body)}

    def post(
        self, body: bytes, *, content_type: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Post a body signed now, with extra headers (e.g. X-Slack-Retry-Num) added."""
        return self._http.post(
            self.endpoint, content=body, headers=self.headers(body, content_type, headers)
        )

    def headers(
        self, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        all_headers = {"Content-Type": content_type, **self.signed_headers(body)}
        all_headers.update(extra or {})
        return all_headers

    def post_raw(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """Post exactly these bytes and headers (for forged / malformed request tests)."""
        return self._http.post(self.endpoint, content=body, headers=headers)

    def ts(self) -> str:
        """A fresh message timestamp, as Slack would assign to a message a person posts."""
        return f"{int(time.time())}.{next(self._seq):06d}"

    def send(self, prepared: Prepared) -> httpx.Response:
        body, headers = prepared
        return self._http.post(self.endpoint, content=body, headers=headers)

    # -- Events API ----------------------------------------------------------------------
    def event(
        self, event: JSONDict, *, event_id: str | None = None, retry_num: int | None = None
    ) -> httpx.Response:
        return self.send(self.prepare_event(event, event_id=event_id, retry_num=retry_num))

    def prepare_event(
        self, event: JSONDict, *, event_id: str | None = None, retry_num: int | None = None
    ) -> Prepared:
        """The signed body and headers of one Events API delivery."""
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": "UWARDENBOT", "is_bot": True}],
        }
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(envelope).encode()
        return body, self.headers(body, "application/json", extra)

    def mention(
        self, text: str, *, user: str, channel: str, thread_ts: str | None = None, **kw: Any
    ) -> tuple[httpx.Response, str]:
        """A person @-mentions the bot; returns the response and the message ts."""
        event = self._mention(text, user=user, channel=channel, thread_ts=thread_ts)
        return self.event(event, **kw), str(event["ts"])

    def prepare_mention(self, text: str, *, user: str, channel: str) -> Prepared:
        return self.prepare_event(self._mention(text, user=user, channel=channel, thread_ts=None))

    def _mention(self, text: str, *, user: str, channel: str, thread_ts: str | None) -> JSONDict:
        ts = self.ts()
        event: JSONDict = {
            "type": "app_mention",
            "user": user,
            "text": f"<@UWARDENBOT> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def dm(self, text: str, *, user: str, channel: str, **kw: Any) -> tuple[httpx.Response, str]:
        ts = self.ts()
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        return self.event(event, **kw), ts

    def home_opened(self, *, user: str) -> httpx.Response:
        return self.event(
            {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
        )

    # -- slash commands ------------------------------------------------------------------
    def command(
        self, text: str, *, user: str, channel: str, command: str = "/warden"
    ) -> httpx.Response:
        form = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "response_url": self.response_url_base + f"cmd{next(self._seq)}",
            "trigger_id": f"{next(self._seq)}.trigger",
        }
        return self.post(urlencode(form).encode(), content_type="application/x-www-form-urlencoded")

    # -- interactivity -------------------------------------------------------------------
    def _interaction(self, payload: JSONDict) -> httpx.Response:
        return self.send(self._interaction_request(payload))

    def _interaction_request(self, payload: JSONDict) -> Prepared:
        payload.setdefault("team", {"id": self.team_id, "domain": "warden-demo"})
        payload.setdefault("api_app_id", self.api_app_id)
        payload.setdefault("token", "legacy-verification-token")
        payload.setdefault("trigger_id", f"{next(self._seq)}.trigger")
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return body, self.headers(body, "application/x-www-form-urlencoded")

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        channel: str,
        message: JSONDict,
        block_id: str = "actions",
    ) -> httpx.Response:
        """A person clicks a button on `message` (a message as the stand-in recorded it)."""
        return self.send(
            self.prepare_click(
                action_id, value, user=user, channel=channel, message=message, block_id=block_id
            )
        )

    def prepare_click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        channel: str,
        message: JSONDict,
        block_id: str = "actions",
    ) -> Prepared:
        return self._interaction_request(
            {
                "type": "block_actions",
                "user": {"id": user, "username": user.lower(), "team_id": self.team_id},
                "container": {
                    "type": "message",
                    "message_ts": message["ts"],
                    "channel_id": channel,
                    "is_ephemeral": False,
                    **({"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}),
                },
                "channel": {"id": channel, "name": channel.lower()},
                "message": message,
                "response_url": self.response_url_base + f"act{next(self._seq)}",
                "actions": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "block_id": block_id,
                        "value": value,
                        "action_ts": f"{time.time():.6f}",
                        "text": {"type": "plain_text", "text": action_id},
                    }
                ],
            }
        )

    def select(
        self,
        action_id: str,
        *,
        user: str,
        channel: str,
        message: JSONDict,
        selected_user: str | None = None,
        selected_value: str | None = None,
    ) -> httpx.Response:
        """A person picks a user (users_select) or an option (static_select) on `message`."""
        body, _ = self.prepare_click(action_id, "", user=user, channel=channel, message=message)
        payload = json.loads(dict(parse_qsl(body.decode()))["payload"])
        action = payload["actions"][0]
        del action["value"], action["text"]
        if selected_user is not None:
            action.update(type="users_select", selected_user=selected_user)
        else:
            action.update(
                type="static_select",
                selected_option={
                    "text": {"type": "plain_text", "text": selected_value},
                    "value": selected_value,
                },
            )
        return self._interaction(payload)

    def submit_view(
        self,
        view: JSONDict,
        values: dict[str, dict[str, str]],
        *,
        user: str,
        checked: dict[str, dict[str, list[str]]] | None = None,
        selected: dict[str, dict[str, str]] | None = None,
    ) -> httpx.Response:
        """Submit a modal (as opened through views.open) with {block_id: {action_id: text}};
        `checked` gives checkbox groups as {block_id: {action_id: [option values]}}, `selected`
        static selects as {block_id: {action_id: option value}}."""
        state: dict[str, dict[str, JSONDict]] = {
            block: {
                action: {"type": "plain_text_input", "value": text}
                for action, text in actions.items()
            }
            for block, actions in values.items()
        }
        for block, groups in (checked or {}).items():
            for action, chosen in groups.items():
                state.setdefault(block, {})[action] = {
                    "type": "checkboxes",
                    "selected_options": [{"value": v} for v in chosen],
                }
        for block, picks in (selected or {}).items():
            for action, value in picks.items():
                state.setdefault(block, {})[action] = {
                    "type": "static_select",
                    "selected_option": {"value": value},
                }
        submitted = {**view, "state": {"values": state}}
        submitted.setdefault("id", f"V{next(self._seq):08d}")
        return self._interaction(
            {
                "type": "view_submission",
                "user": {"id": user, "username": user.lower(), "team_id": self.team_id},
                "view": submitted,
            }
        )

    def message_shortcut(
        self, callback_id: str, *, user: str, channel: str, message: JSONDict
    ) -> httpx.Response:
        return self._interaction(
            {
                "type": "message_action",
                "callback_id": callback_id,
                "user": {"id": user, "name": user.lower()},
                "channel": {"id": channel, "name": channel.lower()},
                "message": message,
                "message_ts": message["ts"],
                "response_url": self.response_url_base + f"sc{next(self._seq)}",
            }
        )
