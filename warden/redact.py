"""Credentials never leave in text: what is recorded (ledger, audit) or shown (Slack, terminal).

Three things are removed from any message before it is stored or shown:
- the userinfo of every URL (`https://user:password@host` keeps only the host),
- the values of credential-like query parameters (`?api-key=`, `token`, `secret`, `password`),
- every configured secret value (each `SecretStr` setting and each password inside a URL
  setting), wherever it appears, and `Authorization:` / `Bearer` values.

Callers apply `redact` where text crosses a boundary; they never need to know which secrets are
configured: `secrets_of(settings)` enumerates them from the settings' own field types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from warden.settings import Settings

MASK = "[redacted]"
_SECRET_NAME = re.compile(r"(?:KEY|SECRET|TOKEN|PASSWORD)S?$", re.I)
MIN_SECRET = 6  # shorter values would mask ordinary words; production refuses them anyway
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s'\"<>`|]+")
_PARAM = re.compile(
    r"(?i)^(?:x-)?(?:api[-_]?key|apikey|key|token|access[-_]?token|auth|authorization|secret|"
    r"client[-_]?secret|password|passwd|pwd|sig|signature|credentials?)$"
)
# key=value pairs outside URLs too (an upstream error quoting its own request line).
_INLINE_PARAM = re.compile(
    r"(?i)\b((?:api[-_]?key|apikey|access[-_]?token|token|secret|client[-_]?secret|password|"
    r"passwd|pwd)=)[^\s&'\"<>]+"
)
# user:password@ after "//", also in a URL another step defanged (hxxps[:]//user:pw@host[.]com).
_USERINFO = re.compile(r"(?<=//)[^/\s@<>|'\"`]+@(?=[\w\[])")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization\s*[:=]\s*)(?:(bearer|basic|token)\s+)?[^\s,;'\"]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{4,}")


def redact_url(url: str) -> str:
    """`url` without userinfo and with credential-like query values masked (else unchanged)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK if "@" in url else url
    netloc = parts.netloc
    has_userinfo = "@" in netloc
    pairs = parse_qsl(parts.query, keep_blank_values=True) if parts.query else []
    secret_query = any(_PARAM.match(name) for name, _ in pairs)
    if not has_userinfo and not secret_query:
        return url
    if has_userinfo:
        netloc = (host or "") + (f":{port}" if port else "")
    query = parts.query
    if secret_query:
        query = urlencode([(n, MASK if _PARAM.match(n) else v) for n, v in pairs], safe="[]")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL credentials, auth header values and every value in `secrets` masked."""
    if not text:
        return text
    out = _URL.sub(lambda m: redact_url(m.group(0)), text)
    out = _USERINFO.sub("", out)
    out = _AUTH_HEADER.sub(
        lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + MASK, out
    )
    out = _BEARER.sub(lambda m: m.group(1) + MASK, out)
    out = _INLINE_PARAM.sub(lambda m: m.group(1) + MASK, out)
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def redact_deep(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`redact` every string inside a JSON-like value (dicts, lists, tuples)."""
    known = tuple(secrets)
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, dict):
        return {k: redact_deep(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_deep(v, known) for v in value)
    return value


def secret_fields(settings: Settings) -> Iterator[tuple[str, str]]:
    """(setting name, value) for every secret the settings hold, found by type.

    A `SecretStr` field, or a list or dict of them (an API key list), is a secret; so is the
    password inside any URL setting. New secret settings are covered without naming them here.
    """
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        label = info.alias or name
        # A setting named like a credential is one even if it was declared as plain text.
        named = bool(_SECRET_NAME.search(label))
        if isinstance(value, SecretStr):
            yield label, value.get_secret_value()
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, SecretStr):
                    yield f"{label}[{key}]", item.get_secret_value()
                elif named and isinstance(item, str):
                    yield f"{label}[{key}]", item
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, SecretStr):
                    yield f"{label}[{i}]", item.get_secret_value()
                elif isinstance(item, BaseModel):
                    # An entry with its own secret (an API key, a webhook subscriber's secret).
                    which = getattr(item, "name", None) or i
                    for field_name in type(item).model_fields:
                        inner = getattr(item, field_name)
                        if isinstance(inner, SecretStr):
                            yield f"{label}[{which}]", inner.get_secret_value()
                elif named and isinstance(item, str):
                    yield f"{label}[{i}]", item
        elif named and isinstance(value, str):
            yield label, value
        elif isinstance(value, str) and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                yield f"{label} (password)", password


def secrets_of(settings: Settings | None) -> list[str]:
    """Every configured secret value (empty when there are no settings)."""
    if settings is None:
        return []
    return [value for _name, value in secret_fields(settings) if value]


def scrub(text: str, settings: Settings | None = None) -> str:
    """`redact` with this process's configured secrets (the CLI boundary's one call).

    Without `settings`, the process settings are used if they load; a message is still
    stripped of URL credentials and auth headers when they do not.
    """
    if settings is None:
        try:
            from warden.settings import get_settings

            settings = get_settings()
        except Exception:  # a broken configuration must not hide the message being shown
            settings = None
    return redact(text, secrets_of(settings))
