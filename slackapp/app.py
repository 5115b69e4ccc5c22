"""The Slack app factory: one Bolt app, its Web API client and every listener, built once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slackapp.approvals import ApproverDirectory, StoreDecider, audit_refusal
from slackapp.boundary import malformed, workspace_refusal
from slackapp.ledger import SlackLedger
from slackapp.runtime import Decider, Runtime, WardenService, utcnow
from slackapp.work import WorkPool
from warden.errors import ConfigError
from warden.settings import Settings

log = logging.getLogger(__name__)


def build_client(settings: Settings, *, max_rate_limit_retries: int = 3) -> Any:
    """The one Web API client: SLACK_API_URL, bot token, 429 Retry-After honoured, and every
    configured secret masked in what it sends (slackapp.redacted_client)."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    from slackapp.redacted_client import RedactingWebClient
    from warden.redact import secrets_of

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else settings.slack_api_url + "/"
    )
    return RedactingWebClient(
        secrets=tuple(secrets_of(settings)),
        token=token,
        base_url=base_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries),
        ],
    )


@dataclass
class SlackApp:
    """The Bolt app plus what runs beside it (worker pool, background loops)."""

    bolt: Any
    runtime: Runtime
    client: Any

    def asgi(self) -> Any:
        """The HTTP-mode ASGI app (signature check in front of Bolt's adapter)."""
        from slackapp.http import build_asgi
        from slackapp.probes import with_probes

        secret = self.runtime.settings.slack_signing_secret
        if secret is None:
            raise ConfigError("HTTP mode needs SLACK_SIGNING_SECRET.")
        return with_probes(build_asgi(self.bolt, secret.get_secret_value()), self.probes())

    def probes(self) -> Any:
        """/healthz, /readyz and /metrics over this app's store and Slack client."""
        from slackapp.probes import PROBE_TIMEOUT_S, Probes

        # Its own client: a probe must answer before the load balancer gives up, so no retries.
        client = build_client(self.runtime.settings, max_rate_limit_retries=0)
        client.timeout = PROBE_TIMEOUT_S
        client.retry_handlers = []
        return Probes(self.runtime.settings, self.runtime.store, client)

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait for every background job (tests and the demo)."""
        return self.runtime.pool.drain(timeout)

    def close(self, *, cancel: bool = False) -> None:
        self.runtime.pool.shutdown(cancel=cancel)


def build_app(
    settings: Settings,
    *,
    warden: WardenService,
    store: Any,
    client: Any = None,
    decider: Decider | None = None,
    workers: int = 8,
    progress_interval_s: float = 1.0,
    clock: Callable[[], datetime] = utcnow,
    verify_token: bool = True,
) -> SlackApp:
    """Build the Slack app over an agent and a store that the caller built once."""
    from slack_bolt import App, BoltResponse

    from slackapp import listeners, observe

    client = client or build_client(settings)
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    bolt = App(
        client=client,
        signing_secret=secret,
        # Listeners only hand work to the pool, so running them before the response is fast,
        # and an HTTP response then means the work is queued.
        process_before_response=True,
        token_verification_enabled=verify_token,
        request_verification_enabled=secret is not None,
    )
    rt = Runtime(
        settings=settings,
        warden=warden,
        store=store,
        ledger=SlackLedger(store.engine),
        decider=decider or StoreDecider(store),
        pool=WorkPool(workers),
        approvers=ApproverDirectory(settings, client),
        clock=clock,
        progress_interval_s=progress_interval_s,
    )

    # The signing secret is per app, not per workspace: a request signed for this app but
    # coming from another workspace it is installed in must not act on this one.
    if verify_token:
        identity = check_slack(client, settings)
        rt.team_id = str(identity["team_id"])
        rt.enterprise_id = identity.get("enterprise_id") or None

    @bolt.middleware
    def well_formed(body: dict[str, Any], resp: Any, next: Callable[[], None]) -> Any:
        problem = malformed(body)
        if problem is not None:
            log.warning("malformed Slack request refused: %s", problem)
            return BoltResponse(status=400, body=f"malformed request: {problem}")
        next()
        return resp

    @bolt.middleware
    def same_workspace(body: dict[str, Any], resp: Any, next: Callable[[], None]) -> Any:
        refusal = (
            workspace_refusal(body, team_id=rt.team_id, enterprise_id=rt.enterprise_id)
            if rt.team_id
            else None
        )
        if refusal is not None:
            team = request_team(body)
            user = body.get("user")
            actor = (user.get("id") if isinstance(user, dict) else None) or body.get("user_id")
            log.warning("request refused: %s (this app serves %s)", refusal, rt.team_id)
            rt.pool.submit(
                "audit",
                audit_refusal,
                rt,
                actor=str(actor or "unknown")[:40],
                verb="slack.request",
                subject=f"team:{str(team)[:40]}",
                reason=refusal,
                details={"type": str(body.get("type"))[:40], "expected_team": rt.team_id},
            )
            return BoltResponse(status=200, body="")
        next()
        return resp

    from slackapp.redacted_client import RedactingWebClient

    if isinstance(client, RedactingWebClient):

        @bolt.middleware
        def redacting_client(context: Any, next: Callable[[], None]) -> None:
            # Bolt hands listeners a new plain WebClient per request: make it a redacting one.
            context["client"] = client.like(context.client)
            next()

    listeners.register(bolt, rt)
    observe.instrument(bolt)
    _register_qa(bolt, store)
    return SlackApp(bolt=bolt, runtime=rt, client=client)


def check_slack(client: Any, settings: Settings) -> Any:
    """`auth.test` once at start; an unreachable or refusing Web API is one clear `ConfigError`
    naming the address (credentials stripped), not a traceback."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    from warden.redact import redact, redact_url, secrets_of

    where = redact_url(settings.slack_api_url)
    try:
        return client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise ConfigError(
            f"Slack's Web API at {where} refused auth.test ({error or 'no error code'}): check "
            "SLACK_BOT_TOKEN (and SLACK_API_URL)."
        ) from None
    except (OSError, SlackClientError) as exc:  # URLError: name not resolved, refused, TLS
        reason = redact(str(getattr(exc, "reason", exc)), secrets_of(settings))
        raise ConfigError(
            f"Cannot reach Slack's Web API at {where} ({reason}). Check SLACK_API_URL and that "
            "this host can reach it; nothing was started."
        ) from None


def request_team(body: dict[str, Any]) -> str | None:
    """The workspace a request names (for logs; `boundary.workspace_refusal` decides)."""
    team = body.get("team")
    if isinstance(team, dict) and isinstance(team.get("id"), str):
        return str(team["id"])
    if isinstance(body.get("team_id"), str):
        return str(body["team_id"])
    return None


def _register_qa(bolt: Any, store: Any) -> None:
    """The ops helper's QA review cards (slackapp/qa.py), when that module is present."""
    import importlib

    try:
        qa = importlib.import_module("slackapp.qa")
    except ModuleNotFoundError as exc:
        if exc.name != "slackapp.qa":
            raise
        return
    import inspect

    params = inspect.signature(qa.register).parameters
    if "store" in params:
        qa.register(bolt, store=store)
    else:
        qa.register(bolt)
