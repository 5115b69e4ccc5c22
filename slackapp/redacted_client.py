"""The Slack boundary for secrets: every Web API call's arguments pass through `warden.redact`.

Messages are built from many sources (agent replies, store errors, gateway failures, upstream
text); scrubbing them where they leave for Slack covers every one of them, including a path
added later that forgets to, so no configured secret or URL credential reaches a channel.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from slackapp.escape import escape_untrusted
from warden.redact import redact_deep

# Arguments that are credentials Slack needs, not text people read.
_PASS_THROUGH = frozenset({"token", "client_secret", "code", "refresh_token"})


def _clean(args: dict[str, Any] | None, secrets: tuple[str, ...]) -> dict[str, Any] | None:
    if not args:
        return args
    return {k: v if k in _PASS_THROUGH else redact_deep(v, secrets) for k, v in args.items()}


class RedactingWebClient(WebClient):
    """A `WebClient` that masks `secrets` and URL credentials in every argument it sends."""

    def __init__(self, *args: Any, secrets: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A secret may reach a message already escaped for mrkdwn (dots defanged, & escaped).
        self.secrets = tuple({*secrets, *(escape_untrusted(s) for s in secrets)})

    def like(self, other: WebClient) -> RedactingWebClient:
        """A redacting copy of `other` (Bolt builds a fresh client for every request)."""
        return RedactingWebClient(
            secrets=self.secrets,
            token=other.token,
            base_url=other.base_url,
            timeout=other.timeout,
            ssl=other.ssl,
            proxy=other.proxy,
            headers=other.headers,
            team_id=other.default_params.get("team_id"),
            logger=other.logger,
            retry_handlers=list(other.retry_handlers) if other.retry_handlers else None,
        )

    def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        return super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=_clean(data, self.secrets),
            params=_clean(params, self.secrets),
            json=_clean(json, self.secrets),
            headers=headers,
            auth=auth,
        )
