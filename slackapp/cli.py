"""`warden serve`: run the Slack app (Socket Mode by default, `--http` for HTTP mode)."""

from __future__ import annotations

from typing import Any

import typer

from warden.errors import ConfigError


def missing_message(missing: list[str], *, http: bool) -> str:
    """Say exactly which settings are missing for the chosen transport, and where to set them."""
    mode = "HTTP mode (--http)" if http else "Socket Mode"
    other = (
        "For Socket Mode instead, drop --http and set SLACK_APP_TOKEN."
        if http
        else "For HTTP mode instead, use --http and set SLACK_SIGNING_SECRET."
    )
    return (
        f"Cannot start Warden in {mode}: {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not set (or still a placeholder). "
        f"Set {'it' if len(missing) == 1 else 'them'} in the environment or in .env. {other}"
    )


def qa_post(
    channel: str = typer.Option(..., help="Slack channel id of the QA reviewers"),
    limit: int = typer.Option(20, min=1),
) -> None:
    """Post review cards (Agree / Disagree) for samples not yet posted."""
    from slack_sdk import WebClient

    from slackapp.qa import post_samples
    from tools.store import build_store
    from warden.settings import get_settings

    settings = get_settings()
    missing = settings.missing_slack_settings(http=True)
    if "SLACK_BOT_TOKEN" in missing:
        raise ConfigError("SLACK_BOT_TOKEN is not set; QA cards are posted as the Warden bot.")
    assert settings.slack_bot_token is not None
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    posted = post_samples(client, build_store(settings), channel, limit=limit)
    typer.echo(f"{posted} QA cards posted to {channel}.")


def register(app: typer.Typer) -> None:
    # `warden qa post` lives with Slack: `ops` knows no Slack, its `qa` group gets the command.
    from ops.cli import qa_app

    qa_app.command("post")(qa_post)

    @app.command()
    def serve(
        http: bool = typer.Option(
            False, "--http", help="HTTP mode (Events API) instead of Socket Mode"
        ),
        port: int = typer.Option(3000, "--port", help="HTTP port"),
        host: str = typer.Option("0.0.0.0", "--host", help="HTTP bind address"),
        reminder_interval: float = typer.Option(60.0, help="seconds between SLA reminder sweeps"),
        health_port: int | None = typer.Option(
            None,
            "--health-port",
            help="also serve /healthz, /readyz and /metrics on this port (for Socket Mode)",
        ),
        api_port: int | None = typer.Option(
            None, "--api-port", help="Socket Mode: serve the HTTP API (/api/v1/) on this port"
        ),
    ) -> None:
        """Run the Slack app: answers, recommendations, escalations and approvals."""
        from warden.settings import get_settings

        settings = get_settings()
        missing = settings.missing_slack_settings(http=http)
        if missing:
            raise ConfigError(missing_message(missing, http=http))
        from warden.production import require_production_ready

        # Before the store, the model or Slack is contacted.
        transport = "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN"
        require_production_ready(settings, required=("SLACK_BOT_TOKEN", transport))

        from agent.service import build_warden
        from slackapp.app import build_app, build_client, check_slack
        from slackapp.reminders import ReminderLoop
        from tools.store import build_store

        # Slack first: an unreachable Web API is said plainly before anything heavy loads.
        client = build_client(settings)
        check_slack(client, settings)
        store = build_store(settings)
        warden = build_warden(settings, store=store)
        slack = build_app(settings, warden=warden, store=store, client=client)
        # Load the embedding model now, in the background, not on the first question; nothing
        # waits for it, so events arriving meanwhile are still acked at once.
        warden.warm_up()
        reminders = ReminderLoop(slack.runtime, slack.client, interval_s=reminder_interval).start()
        health = None
        if health_port is not None:
            from slackapp.http import start_in_thread
            from slackapp.probes import probes_only

            health = start_in_thread(probes_only(slack.probes()), port=health_port, host=host)
            typer.echo(f"Warden: /healthz, /readyz, /metrics on {host}:{health.port}")
        api, deliverer = _integrations(settings, slack, store, warden)
        try:
            if http:
                from slackapp.http import serve as serve_http
                from slackapp.http import with_api

                typer.echo(f"Warden: HTTP mode on {host}:{port} (POST /slack/events)")
                serve_http(with_api(slack.asgi(), api), host=host, port=port)
            else:
                from slackapp.socket import run

                typer.echo("Warden: Socket Mode")
                if api is not None and api_port is not None:
                    from slackapp.http import start_in_thread

                    start_in_thread(api, port=api_port, host=host)
                    typer.echo(f"Warden: HTTP API on {host}:{api_port} (/api/v1/)")
                run(slack)
        finally:
            if health is not None:
                health.stop()
            if deliverer is not None:
                deliverer.stop()
            reminders.stop()
            slack.close()


def _integrations(settings: Any, slack: Any, store: Any, warden: Any) -> tuple[Any, Any]:
    """The HTTP API (when WARDEN_API_KEYS is set) and the webhook deliverer (WARDEN_WEBHOOKS)."""
    api = None
    if getattr(settings, "api_keys", None):
        from api.app import api_from_settings
        from slackapp.api_cards import SlackProposalNotifier

        api = api_from_settings(
            settings,
            store=store,
            notifier=SlackProposalNotifier(slack.runtime, slack.client, warden),
        )
        typer.echo(f"Warden: HTTP API /api/v1/ with {len(settings.api_keys)} key(s)")
    deliverer = None
    if getattr(settings, "webhooks", None):
        from tools.outbox import Deliverer

        deliverer = Deliverer(
            store, settings.webhooks, max_attempts=settings.webhook_max_attempts
        ).start()
        typer.echo(f"Warden: webhooks to {len(settings.webhooks)} subscriber(s)")
    return api, deliverer
