"""The one function that makes untrusted text (case content, model output) safe for Slack mrkdwn."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

# Invisible characters used to smuggle mentions, links or instructions past a reader:
# zero-width spaces/joiners, bidi overrides and isolates, word joiner, BOM, soft hyphen,
# and the Unicode "tag" block (U+E0000..U+E007F) that can hide ASCII text.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# [text](url) as understood by Slack's markdown block and by most renderers people paste into.
_MD_LINK = re.compile(r"\[([^\]\n]{0,500})\]\(([^)\s]{1,2000})\)")
_URL = re.compile(r"\b(?:https?|ftp|ftps|mailto|slack|tel)://[^\s<>]+|\bmailto:[^\s<>]+", re.I)
# A bare host name such as "example.com" or "a.b.co.uk": Slack turns these into links too.
_HOST = re.compile(
    r"(?<![\w.@-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])", re.I
)
_EMAIL = re.compile(r"[\w.+-]+@((?:[a-z0-9-]+\.)+[a-z]{2,24})", re.I)
# Words Slack can turn into mass notifications when a client or workflow enables link_names.
_MASS_MENTION = re.compile(r"@(channel|here|everyone|group)\b", re.I)
_FENCE = re.compile(r"`{3,}")
_PARTIAL_ENTITY = re.compile(r"&[a-z#0-9]{0,6}$")


def _defang_url(url: str, allowed_hosts: frozenset[str]) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host and any(host == h or host.endswith("." + h) for h in allowed_hosts):
        return url
    scheme, sep, rest = url.partition(":")
    scheme = {"http": "hxxp", "https": "hxxps", "ftp": "fxp", "ftps": "fxps"}.get(
        scheme.lower(), scheme.lower() + "-"
    )
    return scheme + "[:]" + rest.replace(".", "[.]") if sep else url.replace(".", "[.]")


def _defang_hosts(text: str, allowed_hosts: frozenset[str]) -> str:
    def host(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if any(name == h or name.endswith("." + h) for h in allowed_hosts):
            return match.group(0)
        return match.group(0).replace(".", "[.]")

    return _HOST.sub(host, text)


def escape_untrusted(
    text: str | None, *, limit: int | None = None, allowed_hosts: Iterable[str] = ()
) -> str:
    """Return `text` safe to place in a Slack mrkdwn field: it can ping no one, link nowhere
    outside `allowed_hosts`, and cannot break out of the block it is placed in.

    Use it for everything that did not come from Warden's own code: case content, report
    reasons, user input echoed back, model output, policy excerpts. `limit` caps the length of
    the result (Block Kit limits apply to the escaped text), ending with an ellipsis.
    """
    if not text:
        return ""
    hosts = frozenset(h.lower().strip(".") for h in allowed_hosts if h)
    # NFKC folds look-alikes (fullwidth "＜", "＠") into the ASCII we neutralise below.
    out = unicodedata.normalize("NFKC", text)
    out = _INVISIBLE.sub("", out)
    out = _CONTROL.sub(" ", out)
    out = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", out)

    # Defang URLs and hosts before escaping so "&" inside a query string is escaped once.
    pieces: list[str] = []
    last = 0
    for match in _URL.finditer(out):
        pieces.append(
            _defang_hosts(_EMAIL.sub(_email_sub(hosts), out[last : match.start()]), hosts)
        )
        pieces.append(_defang_url(match.group(0), hosts))
        last = match.end()
    pieces.append(_defang_hosts(_EMAIL.sub(_email_sub(hosts), out[last:]), hosts))
    out = "".join(pieces)

    # Slack's control sequences (<!here>, <@U1>, <#C1>, <!subteam^S1>, <url|text>) all start
    # with "<"; escaping &, < and > turns every one of them into visible text.
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MASS_MENTION.sub(lambda m: "\uff20" + m.group(1), out)
    # A code fence in content would swallow the rest of our message formatting.
    out = _FENCE.sub(lambda m: "\u02cb" * len(m.group(0)), out)
    if limit is not None and len(out) > limit:
        out = _PARTIAL_ENTITY.sub("", out[: max(limit - 1, 0)]).rstrip() + "…"
    return out


def _email_sub(hosts: frozenset[str]) -> Callable[[re.Match[str]], str]:
    def sub(match: re.Match[str]) -> str:
        domain = match.group(1).lower()
        if any(domain == h or domain.endswith("." + h) for h in hosts):
            return match.group(0)
        return match.group(0).replace("@", "[at]").replace(".", "[.]")

    return sub
