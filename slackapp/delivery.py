"""Getting a reply to the person, whatever Slack says: posts, private answers and fallbacks.

A reply goes into its thread. When Slack refuses it (Warden is not in the channel, the channel
is gone, the blocks break a limit), the person still gets it: through the slash command's
`response_url`, an ephemeral message, or a DM, in that order. A private reply (the message
shortcut) never goes into the thread: ephemeral, else DM.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slackapp.blocks import Block, check_blocks, section
from slackapp.escape import escape_untrusted

log = logging.getLogger(__name__)

# Errors after which the same post would fail again: answer the person another way.
UNPOSTABLE = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "msg_too_long",
        "too_many_blocks",
        "invalid_arguments",
    }
)


def slack_error(exc: BaseException) -> str | None:
    """The `error` of a Slack API refusal (slack_sdk's SlackApiError), or None."""
    response = getattr(exc, "response", None)
    try:
        return str(response["error"]) if response is not None else None
    except (KeyError, TypeError):
        return None


@dataclass
class Audience:
    """Who a reply is for, and the private ways to reach them."""

    user: str
    respond: Callable[..., Any] | None = None  # a slash command's response_url
    private: bool = False  # ephemeral or DM only, never the thread
    why: str | None = None  # said under a private reply (why it is not in the channel)


def _data(response: Any) -> dict[str, Any]:
    return dict(response.data) if hasattr(response, "data") else dict(response)


def privately(
    client: Any,
    *,
    channel: str,
    audience: Audience,
    text: str,
    blocks: list[Block],
    why: str | None = None,
) -> bool:
    """Answer only the person: response_url, then ephemeral, then DM. True if one worked."""
    why = why or audience.why
    if why:
        blocks = [*blocks[:48], section(f":information_source: {why}")]
    if audience.respond is not None:
        try:
            audience.respond(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
            return True
        except Exception as exc:
            log.warning("response_url reply to %s failed: %s", audience.user, exc)
    try:
        client.chat_postEphemeral(channel=channel, user=audience.user, text=text, blocks=blocks)
        return True
    except Exception as exc:
        log.info("ephemeral reply to %s in %s failed: %s", audience.user, channel, exc)
    try:
        dm = client.conversations_open(users=audience.user)["channel"]["id"]
        client.chat_postMessage(channel=dm, text=text, blocks=blocks)
        return True
    except Exception as exc:
        log.error("could not reach %s at all: %s", audience.user, exc)
        return False


def deliver(
    client: Any,
    *,
    channel: str,
    thread_ts: str | None,
    text: str,
    blocks: list[Block],
    audience: Audience | None = None,
) -> dict[str, Any] | None:
    """Post the reply in its thread; if Slack cannot take it, answer the person privately.

    `text` is the notification text: like the blocks, anything untrusted in it is escaped by
    the caller (`response_blocks` does it for agent replies).

    Returns the posted message (channel, ts), or None when it went privately.
    """
    try:
        check_blocks(blocks)
    except ValueError as exc:
        log.warning("reply over a Block Kit limit (%s); sending it shortened", exc)
        blocks = [*blocks[:45], section(":warning: Part of this reply was over Slack's limits.")]
        blocks = [b for b in blocks if b.get("type") != "section" or len(b["text"]["text"]) <= 3000]
    if audience is not None and audience.private:
        privately(client, channel=channel, audience=audience, text=text, blocks=blocks)
        return None
    kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    try:
        return _data(client.chat_postMessage(**kwargs))
    except Exception as exc:
        error = slack_error(exc)
        if audience is None or error not in UNPOSTABLE:
            raise
        privately(
            client,
            channel=channel,
            audience=audience,
            text=text,
            blocks=blocks,
            why=why_private(error),
        )
        return None


def why_private(error: str | None) -> str:
    """What to tell someone whose reply could not go in the channel."""
    return {
        "not_in_channel": "Warden is not in this channel, so only you see this. "
        "Invite it with `/invite @Warden` to answer in the channel.",
        "channel_not_found": "Warden cannot see this channel, so only you see this.",
    }.get(error or "", f"Slack refused the reply in the channel ({error or 'error'}).")


def accepts_tokens(warden: Any) -> bool:
    """Whether the agent's `handle` takes `on_token` (issue 12's streaming interface)."""
    try:
        return "on_token" in inspect.signature(warden.handle).parameters
    except (TypeError, ValueError):
        return False


_PROSE_KEY = re.compile(r'(?<!\\)"(?:answer|rationale)"\s*:\s*"')
_ESCAPES = {"n": "\n", "t": "\t", "r": "", "b": "", "f": "", '"': '"', "\\": "\\", "/": "/"}


class ProseOf:
    """The readable part of a model's token stream.

    A model writing prose streams prose; one writing a structured reply (every answer asks for
    `json_schema` output) streams a JSON object. Of that, only the text of its prose field
    (`answer`, or a recommendation's `rationale`) is shown, unescaped as it arrives: a person
    watching the stream never sees braces, keys or cited ids, which the final answer shows.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._json: bool | None = None  # undecided until the first non-blank character
        self._at = 0  # where reading resumes in the buffer
        self._state = "seek"  # seek (the prose key) → value → done

    def feed(self, token: str) -> str:
        """The displayable text this token adds (possibly empty)."""
        if self._json is None:
            self._buffer += token
            start = self._buffer.lstrip()
            if not start:
                return ""
            self._json = start.startswith("{")
            if not self._json:
                text, self._buffer = self._buffer, ""
                return text
            return self._read()
        if not self._json:
            return token
        self._buffer += token
        return self._read()

    def _read(self) -> str:
        if self._state == "seek":
            found = _PROSE_KEY.search(self._buffer, self._at)
            if found is None:
                # Keep the tail that may be the start of the key, cut across tokens.
                self._at = max(self._at, len(self._buffer) - 24)
                return ""
            self._at, self._state = found.end(), "value"
        out: list[str] = []
        text, i = self._buffer, self._at
        while self._state == "value" and i < len(text):
            ch = text[i]
            if ch == '"':
                self._state = "done"
                i += 1
                break
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            if i + 1 >= len(text):
                break  # the escape's second half is in the next token
            code = text[i + 1]
            if code == "u":
                if i + 6 > len(text):
                    break
                with contextlib.suppress(ValueError):  # a malformed escape shows nothing
                    out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(code, code))
            i += 2
        self._at = i
        return "".join(out)


class AnswerStream:
    """Streams an answer's tokens into its thread (chat.startStream / appendStream / stopStream
    through slack_sdk's `chat_stream`), then replaces it with the validated, cited answer.

    Tokens are model output, so they are escaped; they are sent a word at a time so a link or
    mention split across tokens is escaped whole. Of a structured reply only its prose field
    is shown (`ProseOf`). A streaming failure stops the stream, never
    the answer: the final reply is posted or updated either way.
    """

    def __init__(
        self, client: Any, *, channel: str, thread_ts: str, team: str | None, user: str
    ) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.team = team
        self.user = user
        self._stream: Any = None
        self._pending = ""
        self._prose = ProseOf()
        self.failed = False
        self.ts: str | None = None

    def __call__(self, token: str) -> None:
        if self.failed:
            return
        self._pending += self._prose.feed(token)
        cut = max(self._pending.rfind(" "), self._pending.rfind("\n"))
        if cut < 0:
            return
        ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        self._send(ready)

    def _send(self, chunk: str) -> None:
        if not chunk:
            return
        try:
            if self._stream is None:
                kwargs: dict[str, Any] = {"channel": self.channel, "thread_ts": self.thread_ts}
                if self.team:
                    kwargs.update(recipient_team_id=self.team, recipient_user_id=self.user)
                self._stream = self.client.chat_stream(buffer_size=1, **kwargs)
            self._stream.append(markdown_text=escape_untrusted(chunk))
        except Exception as exc:
            log.warning("answer streaming stopped: %s", exc)
            self.failed = True

    @property
    def started(self) -> bool:
        return self._stream is not None and not self.failed

    def finish(self, *, text: str, blocks: list[Block]) -> dict[str, Any] | None:
        """Stop the stream and show the final reply in its place; None if nothing streamed."""
        started_ts = getattr(self._stream, "ts", None) if self._stream is not None else None
        if self._stream is None or (self.failed and not started_ts):
            return None  # nothing reached Slack: the caller posts the reply as usual
        try:
            channel, ts = self.channel, str(started_ts or "")
            try:
                if not self.failed:
                    self._send(self._pending)
                stopped = _data(self._stream.stop())
                ts = str(stopped.get("ts") or ts)
                channel = str(stopped.get("channel") or channel)
            except Exception as exc:  # a half-streamed message is still replaced below
                log.warning("could not stop the answer stream: %s", exc)
                if not ts:
                    raise
            check_blocks(blocks)
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return {"channel": channel, "ts": ts}
        except Exception as exc:
            log.warning("could not finish the streamed answer: %s", exc)
            return None
