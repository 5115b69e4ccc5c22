"""`warden cases|audit|reasons|escalations|strikes|appeal`: the enforcement store from the shell.

Everything heavy (SQLAlchemy, alembic, the catalogue) is imported inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.store import Store

cases_app = typer.Typer(help="Import, inspect and list moderation cases.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and export the hash-chained audit log.", no_args_is_help=True)
reasons_app = typer.Typer(help="Statements of reasons (EU DSA Art. 17).", no_args_is_help=True)
escalations_app = typer.Typer(help="Escalation tickets and their SLA.", no_args_is_help=True)
strikes_app = typer.Typer(help="Account strike standing.", no_args_is_help=True)
appeal_app = typer.Typer(help="Appeals: overturn an enforcement decision.", no_args_is_help=True)


def _store() -> Store:
    from tools.store import build_store
    from warden.settings import get_settings

    return build_store(get_settings())


def _catalogue() -> Catalogue:
    from knowledge.catalogue import load_catalogue
    from warden.settings import get_settings

    return load_catalogue(get_settings().catalogue_dir)


def _safe(text: str) -> str:
    """Untrusted content printed to a terminal: control characters (escape sequences) shown
    escaped, never interpreted."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in text
    )


def _me() -> str:
    """The Slack user id this command acts as (WARDEN_OPERATORS); refuses without one."""
    from warden.identity import cli_operator
    from warden.settings import get_settings

    return cli_operator(get_settings())


@cases_app.command("import")
def cases_import(
    file: Annotated[Path, typer.Argument(help="JSONL file, one case per line")],
    keep_valid: Annotated[
        bool,
        typer.Option(
            "--keep-valid/--all-or-nothing",
            help="keep the good lines when some are bad (default: all-or-nothing, "
            "nothing is imported unless every line is good)",
        ),
    ] = False,
) -> None:
    """Import cases; a bad line is reported with its line number."""
    from tools.cases import import_file

    report = import_file(_store(), file, mode="keep-valid" if keep_valid else "all-or-nothing")
    typer.echo(f"{file}: {report.imported} imported, {report.unchanged} already stored")
    if report.errors:
        typer.secho(
            f"{len(report.errors)} bad line(s) skipped:\n{report.describe_errors()}",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(1)


@cases_app.command("show")
def cases_show(
    case_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="print the case as JSON")] = False,
) -> None:
    """Show one case (content is untrusted data: shown, never interpreted)."""
    case = _store().get_case(case_id)
    if as_json:
        typer.echo(case.model_dump_json(indent=2))
        return
    typer.echo(f"{_safe(case.id)}  [{case.status}]  opened {case.opened_at:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"source: {case.source}  vendor team: {case.vendor_team or '-'}")
    signals = ", ".join(f"{k}={v:.2f}" for k, v in sorted(case.signals.items())) or "none"
    typer.echo(f"signals: {signals}")
    for item in case.items:
        typer.echo(f"- {item.kind} {_safe(item.id)} by {_safe(item.author_id)}")
        if item.text:
            typer.echo(f"    text: {_safe(item.text)}")
        if item.media_description:
            typer.echo(f"    media: {_safe(item.media_description)}")
    for report in case.reports:
        typer.echo(f"  report by {_safe(report.reporter_id)}: {_safe(report.reason)}")


@cases_app.command("list")
def cases_list(
    status: Annotated[
        str | None,
        typer.Option(help="new, in_review, decided, actioned, closed, escalated or appealed"),
    ] = None,
    limit: int = 50,
) -> None:
    """List cases (newest first) and detector clusters."""
    store = _store()
    for case in store.list_cases(status=status, limit=limit):
        first = case.items[0]
        excerpt = (first.text or first.media_description or "").replace("\n", " ")[:60]
        typer.echo(f"{case.id:<12} {case.status:<10} {len(case.items)} item(s)  {_safe(excerpt)}")
    clusters = store.list_clusters()
    if clusters:
        typer.echo("\nclusters:")
        for c in clusters:
            typer.echo(f"{c.id:<14} {c.section_id:<7} {len(c.content_ids):>4} items  {c.detector}")


@cases_app.command("load-sample")
def cases_load_sample() -> None:
    """Load the bundled sample data (cases, accounts with strikes, clusters); idempotent."""
    from tools.cases import load_sample

    report = load_sample(_store(), _catalogue())
    typer.echo(
        f"sample loaded: {report.cases} cases, {report.accounts} accounts, "
        f"{report.strikes} strikes, {report.content} cluster items, {report.clusters} clusters "
        "added (0 everywhere means it was already loaded)"
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and name the first broken event if anything was altered."""
    from tools.audit import verify

    report = verify(_store())
    if report.ok:
        typer.echo(f"audit chain intact: {report.events} events")
        return
    typer.secho(
        f"audit chain BROKEN at seq {report.first_broken_seq}: {report.problem}",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path | None, typer.Option("--out", help="file (default: stdout)")] = None,
) -> None:
    """Export every audit event as JSONL."""
    from tools.audit import export, export_to

    store = _store()
    if out is None:
        export(store, sys.stdout)
        return
    count = export_to(store, out)
    typer.echo(f"{count} events written to {out}", err=True)


@reasons_app.command("export")
def reasons_export(
    out: Annotated[Path | None, typer.Option("--out", help="file (default: stdout)")] = None,
) -> None:
    """Export every statement of reasons as JSONL."""
    from tools.reasons import export, export_to

    store = _store()
    if out is None:
        export(store, sys.stdout)
        return
    count = export_to(store, out)
    typer.echo(f"{count} statements written to {out}", err=True)


@escalations_app.command("list")
def escalations_list(
    status: Annotated[str | None, typer.Option(help="open, acknowledged or resolved")] = None,
) -> None:
    """List escalations with priority, route, owner and SLA state."""
    from tools.escalations import breach_level, list_escalations
    from tools.models import EscalationStatus
    from tools.store import utcnow

    now = utcnow()
    chosen = EscalationStatus(status) if status else None
    for esc in list_escalations(_store(), status=chosen):
        level = breach_level(esc, now)
        sla = f"BREACHED x{level}" if level else f"due {esc.sla_due_at:%m-%d %H:%M}"
        typer.echo(
            f"{esc.id}  {esc.priority}  {esc.status:<12} {esc.channel:<22} "
            f"owner={esc.owner_id or '-':<10} {sla}  {_safe(esc.summary[:50])}"
        )


@escalations_app.command("ack")
def escalations_ack(escalation_id: str) -> None:
    """Acknowledge (take) an escalation, as you (WARDEN_OPERATORS)."""
    from tools.escalations import acknowledge

    esc = acknowledge(_store(), escalation_id, user_id=_me())
    typer.echo(f"{esc.id} acknowledged by {esc.owner_id}")


@escalations_app.command("resolve")
def escalations_resolve(
    escalation_id: str,
    resolution: Annotated[str, typer.Option(help="how it was resolved (the outcome)")],
    remediation: Annotated[str | None, typer.Option(help="what was done about it")] = None,
    policy_gap: Annotated[bool, typer.Option(help="the policy did not cover this")] = False,
) -> None:
    """Resolve an escalation, as you (the resolution goes in the audit log)."""
    from tools.escalations import resolve

    esc = resolve(
        _store(),
        escalation_id,
        by=_me(),
        resolution=resolution,
        remediation=remediation,
        policy_gap=policy_gap,
    )
    typer.echo(f"{esc.id} resolved" + (" (policy gap recorded)" if policy_gap else ""))


# issue 13: the card's triage steps, from the shell, as the mapped operator.
@escalations_app.command("take")
def escalations_take(escalation_id: str) -> None:
    """Take an escalation: you become its owner."""
    from tools.escalations import take

    esc = take(_store(), escalation_id, user_id=_me())
    typer.echo(f"{esc.id} owned by {esc.owner_id}")


@escalations_app.command("assign")
def escalations_assign(escalation_id: str, owner: str) -> None:
    """Assign an escalation to a Slack user id (you are recorded as who assigned it)."""
    from tools.escalations import reassign
    from warden.errors import InputError
    from warden.settings import SLACK_USER_ID

    if not SLACK_USER_ID.match(owner):
        raise InputError(f"{owner!r} is not a Slack user id (like U0123ABCD).")
    esc = reassign(_store(), escalation_id, owner_id=owner, by=_me())
    typer.echo(f"{esc.id} owned by {esc.owner_id}")


@escalations_app.command("priority")
def escalations_priority(escalation_id: str, priority: str) -> None:
    """Change an escalation's priority (P0-P3); its SLA deadline follows the policy's SLA."""
    from knowledge.vocabulary import Priority
    from tools.escalations import set_priority
    from warden.errors import InputError

    try:
        chosen = Priority(priority.upper())
    except ValueError:
        raise InputError(f"Unknown priority {priority!r}; use P0, P1, P2 or P3.") from None
    esc = set_priority(_store(), _catalogue(), escalation_id, priority=chosen, by=_me())
    typer.echo(f"{esc.id} is {esc.priority.value}, SLA due {esc.sla_due_at:%Y-%m-%d %H:%M} UTC")


@escalations_app.command("note")
def escalations_note(escalation_id: str, text: str) -> None:
    """Add a note to an escalation's timeline."""
    from tools.escalations import add_note

    esc = add_note(_store(), escalation_id, by=_me(), text=text)
    typer.echo(f"note added to {esc.id}")


@escalations_app.command("reopen")
def escalations_reopen(
    escalation_id: str,
    reason: Annotated[str, typer.Option(help="why it is reopened")] = "",
) -> None:
    """Reopen a resolved escalation."""
    from tools.escalations import reopen

    esc = reopen(_store(), escalation_id, by=_me(), reason=reason)
    typer.echo(f"{esc.id} reopened")


@escalations_app.command("sweep")
def escalations_sweep() -> None:
    """Claim and print SLA breach reminders due now (each breach level is reminded once)."""
    from tools.escalations import sweep

    reminders = sweep(_store())
    for r in reminders:
        typer.echo(
            f"REMINDER level {r.level}: {r.escalation_id} {r.priority} in {r.channel}, "
            f"{r.overdue_minutes} min overdue, owner {r.owner_id or 'unassigned'}"
        )
    typer.echo(f"{len(reminders)} reminder(s) due", err=True)


@strikes_app.command("show")
def strikes_show(account_id: str) -> None:
    """Show an account's strikes and its standing per policy."""
    from tools.store import utcnow
    from tools.strikes import standing

    store = _store()
    catalogue = _catalogue()
    account = store.get_account(account_id)
    now = utcnow()
    typer.echo(f"{account.id} (@{account.handle})  status: {account.status}")
    for strike in account.strikes:
        state = (
            "overturned"
            if strike.overturned
            else ("expired" if strike.expires_at <= now else "active")
        )
        typer.echo(
            f"  {strike.id}  {strike.section_id:<7} w{strike.weight}  "
            f"{strike.issued_at:%Y-%m-%d}  {state:<10} key={strike.source_action_key}"
        )
    for line in standing(store, catalogue, account_id, now=now):
        typer.echo(f"  {line}")


@appeal_app.command("overturn")
def appeal_overturn(
    action_key: Annotated[str, typer.Argument(help="the action key (or strike id) to overturn")],
    reason: Annotated[str, typer.Option(help="why the appeal succeeded")],
) -> None:
    """Overturn the strike an action gave (audited; a suspension it caused is lifted)."""
    from tools.strikes import overturn

    store = _store()
    catalogue = _catalogue()
    by_id = action_key.startswith(("stk_", "sample-"))
    strike = overturn(
        store,
        catalogue,
        strike_id=action_key if by_id else None,
        action_key=None if by_id else action_key,
        actor=_me(),
        reason=reason,
    )
    account = store.get_account(strike.account_id)
    typer.echo(f"strike {strike.id} on {strike.account_id} overturned; account {account.status}")


def register(app: typer.Typer) -> None:
    """Attach this package's commands to the root `warden` app."""
    app.add_typer(cases_app, name="cases")
    app.add_typer(audit_app, name="audit")
    app.add_typer(reasons_app, name="reasons")
    app.add_typer(escalations_app, name="escalations")
    app.add_typer(strikes_app, name="strikes")
    app.add_typer(appeal_app, name="appeal")
