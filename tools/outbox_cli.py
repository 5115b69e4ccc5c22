"""`warden webhooks status|deliver`: the webhook outbox from the shell.

Everything heavy (SQLAlchemy, httpx) is imported inside the commands.
"""

from __future__ import annotations

from typing import Annotated

import typer

webhooks_app = typer.Typer(
    help="Signed webhooks out: delivery status, dead letters, delivery.", no_args_is_help=True
)


@webhooks_app.command("status")
def webhooks_status() -> None:
    """Per subscriber: pending, retrying, delivered and dead-lettered events."""
    from rich.console import Console
    from rich.table import Table

    from tools.outbox import status
    from tools.store import build_store
    from warden.settings import get_settings

    settings = get_settings()
    report = status(build_store(settings), settings.webhooks)
    console = Console()
    console.print(f"{report.events} event(s) in the outbox")
    if not settings.webhooks:
        console.print("No subscribers: set WARDEN_WEBHOOKS to deliver them.")
        return
    table = Table(title="webhook subscribers")
    for column in ("name", "url", "events", "pending", "retrying", "delivered", "dead"):
        table.add_column(column)
    for sub in report.subscribers:
        table.add_row(
            sub.name,
            sub.url,
            ", ".join(sub.events),
            str(sub.pending),
            str(sub.retrying),
            str(sub.delivered),
            str(sub.dead),
        )
    console.print(table)
    if report.dead_letters:
        dead = Table(title="dead letters (newest first)")
        for column in ("subscriber", "event", "type", "attempts", "last error"):
            dead.add_column(column)
        for letter in report.dead_letters:
            dead.add_row(
                letter.subscriber,
                letter.event_id,
                letter.event_type,
                str(letter.attempts),
                letter.last_error or "",
            )
        console.print(dead)


@webhooks_app.command("deliver")
def webhooks_deliver(
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
    interval: Annotated[float, typer.Option(help="seconds between passes")] = 1.0,
) -> None:
    """Deliver the outbox to the subscribers (what `warden serve` runs in the background)."""
    import httpx

    from tools.outbox import Deliverer, deliver_once
    from tools.store import build_store
    from warden.errors import ConfigError
    from warden.settings import get_settings

    settings = get_settings()
    if not settings.webhooks:
        raise ConfigError("No webhook subscribers: set WARDEN_WEBHOOKS (a JSON list).")
    store = build_store(settings)
    if once:
        with httpx.Client(timeout=10.0) as client:
            report = deliver_once(
                store, settings.webhooks, client, max_attempts=settings.webhook_max_attempts
            )
        typer.echo(f"delivered {report.delivered}, failed {report.failed}, dead {report.dead}")
        return
    deliverer = Deliverer(
        store, settings.webhooks, interval_s=interval, max_attempts=settings.webhook_max_attempts
    )
    try:
        deliverer.run()
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    """Attach `warden webhooks` to the root app."""
    app.add_typer(webhooks_app, name="webhooks")
