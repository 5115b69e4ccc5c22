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
appeal_app = typer.Typer(
    help="Appeals: file one for the affected account, uphold or overturn it.", no_args_is_help=True
)


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
def audit_verify(
    anchors: Annotated[
        Path | None,
        typer.Option(help="signed checkpoints (default: WARDEN_AUDIT_ANCHORS or the data folder)"),
    ] = None,
) -> None:
    """Walk the hash chain and check it against the signed checkpoints; exit 1 and name the
    first broken event if anything was altered."""
    from tools.audit import verify
    from tools.audit_anchor import verify_anchored
    from warden.settings import get_settings

    settings = get_settings()
    path = anchors or settings.audit_anchors_path
    key = settings.audit_key.get_secret_value() if settings.audit_key else None
    store = _store()
    # Checkpoints found without the key are refused (ConfigError), not silently skipped.
    anchored = key is not None or path.exists()
    report = verify_anchored(store, key, path) if anchored else verify(store)
    if report.ok:
        matched = f", {report.anchored} signed checkpoint(s) match" if key else ""
        typer.echo(f"audit chain intact: {report.events} events{matched}")
        return
    where = f" at seq {report.first_broken_seq}" if report.first_broken_seq else ""
    typer.secho(f"audit chain BROKEN{where}: {report.problem}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    out: Annotated[
        Path | None,
        typer.Option(help="checkpoint file (default: WARDEN_AUDIT_ANCHORS or the data folder)"),
    ] = None,
) -> None:
    """Append a checkpoint of the chain's head, signed with WARDEN_AUDIT_KEY, to a file kept
    outside the database (copy it to write-once storage)."""
    from tools.audit_anchor import anchor
    from warden.settings import get_settings

    settings = get_settings()
    path = out or settings.audit_anchors_path
    key = settings.audit_key.get_secret_value() if settings.audit_key else None
    made = anchor(_store(), key, path)
    typer.echo(f"anchored event {made.seq} ({made.hash[:16]}…) in {path}")


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
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="warden (the statements as stored) or dsa (the EU Transparency Database "
            "API's field names and values)",
        ),
    ] = "warden",
) -> None:
    """Export every statement of reasons as JSONL."""
    from tools.reasons import export, export_to
    from warden.errors import InputError

    if fmt not in ("warden", "dsa"):
        raise InputError(f"--format must be warden or dsa, not {fmt!r}")
    store = _store()
    if fmt == "dsa":
        from tools.dsa import export_dsa

        if out is None:
            count, passing, unmapped = export_dsa(store, _catalogue(), sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as stream:
                count, passing, unmapped = export_dsa(store, _catalogue(), stream)
        where = f" to {out}" if out else ""
        typer.echo(
            f"{count} statements written{where}; {passing} of {count} pass the Transparency "
            "Database's rules",
            err=True,
        )
        if unmapped:
            typer.echo(
                f"{len(unmapped)} older statements left out: issued before Warden recorded their "
                f"section and action (e.g. {unmapped[0]})",
                err=True,
            )
        return
    if out is None:
        export(store, sys.stdout)
        return
    count = export_to(store, out)
    typer.echo(f"{count} statements written to {out}", err=True)


@reasons_app.command("submit")
def reasons_submit(
    batch_size: Annotated[int, typer.Option(min=1, max=100, help="statements per request")] = 100,
) -> None:
    """File every statement not yet accepted with the EU DSA Transparency Database."""
    from tools.dsa_submit import rejections, submit
    from warden.errors import ConfigError
    from warden.settings import get_settings

    settings = get_settings()
    if settings.dsa_api_token is None or not settings.dsa_api_token.get_secret_value():
        raise ConfigError("Set WARDEN_DSA_API_TOKEN (the platform's Transparency Database token).")
    report = submit(
        _store(),
        _catalogue(),
        url=settings.dsa_api_url,
        token=settings.dsa_api_token.get_secret_value(),
        batch_size=batch_size,
    )
    typer.echo(
        f"{report.accepted} accepted, {report.already_filed} already filed, "
        f"{report.rejected} rejected ({report.requests} requests)"
    )
    for puid, errors, _at in rejections(_store())[: 20 if report.rejected else 0]:
        fields = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        typer.echo(f"  rejected {puid}: {_safe(fields)[:300]}", err=True)


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
def strikes_show(
    account_id: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="active strikes with expiry, restrictions with end")
    ] = False,
) -> None:
    """Show an account's strikes, restrictions and standing per policy."""
    from tools.store import utcnow
    from tools.strikes import standing

    store = _store()
    catalogue = _catalogue()
    account = store.get_account(account_id)
    now = utcnow()
    if as_json:
        from tools.strikes import account_report

        typer.echo(account_report(store, catalogue, account_id, now=now).model_dump_json(indent=2))
        return
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
    from tools.strikes import account_report

    for r in account_report(store, catalogue, account_id, now=now).restrictions:
        end = f"until {r.ends_at:%Y-%m-%d %H:%M} UTC" if r.ends_at else "until lifted"
        state = "active" if r.active(now) else ("lifted" if r.lifted_at else "ended")
        typer.echo(f"  restriction {r.id}  {r.restriction.value:<18} {end}  {state}")
    for line in standing(store, catalogue, account_id, now=now):
        typer.echo(f"  {line}")


def register(app: typer.Typer) -> None:
    """Attach this package's commands to the root `warden` app."""
    import tools.casework_cli  # noqa: F401  (issue 11: queue, claim, decide, stats, appeals)

    app.add_typer(cases_app, name="cases")
    app.add_typer(audit_app, name="audit")
    app.add_typer(reasons_app, name="reasons")
    app.add_typer(escalations_app, name="escalations")
    app.add_typer(strikes_app, name="strikes")
    app.add_typer(appeal_app, name="appeal")
