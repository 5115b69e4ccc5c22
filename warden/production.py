"""What `WARDEN_ENV=production` refuses to start with, checked before anything is contacted.

Every secret setting (found by type and name: `warden.redact.secret_fields`, so a secret added
later is covered without being listed here) must be long, not a placeholder, and not low in
entropy; production needs a real enforcement API (the local platform would mark actions applied
that never reached the platform) and an audit key for signed checkpoints. `production_problems`
lists everything at once; `require_production_ready` raises it as one `ConfigError`. Servers
(the Slack app, the API) call it first, with the settings their transport cannot do without.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from warden.errors import ConfigError
from warden.redact import secret_fields
from warden.settings import Settings
from warden.strength import secret_weakness


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def production_problems(settings: Settings, *, required: Iterable[str] = ()) -> list[str]:
    """Every reason production must not start with `settings` (empty: it may)."""
    if settings.environment != "production":
        return []
    problems: list[str] = []
    present = dict(secret_fields(settings))
    for name in required:
        if not present.get(name, "").strip():
            problems.append(f"{name} is not set")
    for name, value in present.items():
        if not value.strip():
            continue
        weakness = secret_weakness(value)
        if weakness:
            problems.append(f"{name} {weakness}")
    if not settings.enforcement_api_url:
        problems.append(
            "WARDEN_ENFORCEMENT_API_URL is not set (production never uses the local platform)"
        )
    elif not _is_http_url(settings.enforcement_api_url):
        problems.append("WARDEN_ENFORCEMENT_API_URL is not an http(s) URL with a host")
    elif not present.get("WARDEN_ENFORCEMENT_API_KEY", "").strip():
        problems.append("WARDEN_ENFORCEMENT_API_KEY is not set")
    if not present.get("WARDEN_AUDIT_KEY", "").strip():
        problems.append("WARDEN_AUDIT_KEY is not set (it signs the audit checkpoints)")
    return problems


def require_production_ready(settings: Settings, *, required: Iterable[str] = ()) -> None:
    """Raise one `ConfigError` naming every problem; a no-op outside production."""
    problems = production_problems(settings, required=required)
    if problems:
        raise ConfigError(
            "WARDEN_ENV=production refuses to start: "
            + "; ".join(problems)
            + ". Generate real values (e.g. `openssl rand -hex 32`) and set them in the "
            "environment or .env."
        )
