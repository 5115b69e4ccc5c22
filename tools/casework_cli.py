"""`warden cases queue|claim|release|reassign|decide|stats` and `warden appeal file|decide|list`.

The acting person is always the OS user mapped by WARDEN_OPERATORS (`warden.identity`), never
an argument. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from tools.cli import _catalogue, _me, _safe, _store, appeal_app, cases_app

if TYPE_CHECKING:
    from pydantic import BaseModel

    from warden.identity import Directory


def _directory() -> Directory:
    from warden.identity import SettingsDirectory
    from warden.settings import get_settings

    return SettingsDirectory(get_settings())


def _echo_json(model: BaseModel) -> None:
    typer.echo(model.model_dump_json(indent=2))


def _mins(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 60:.1f} s"
    return f"{value:.1f} min" if value < 120 else f"{value / 60:.1f} h"


@cases_app.command("queue")
def cases_queue(
    pod: Annotated[str | None, typer.Option(help="only this pod's queue")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the queue as JSON")] = False,
) -> None:
    """Open cases per pod (from the catalogue route), by priority then age."""
    from tools.casework import queue

    entries = queue(_store(), _catalogue(), pod=pod)
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    for e in entries:
        held = f"held by {e.claimed_by}" if e.claimed_by else "unclaimed"
        typer.echo(
            f"{e.priority}  {e.pod:<16} {e.case_id:<12} {e.policy_id or '-':<4} "
            f"{_mins(e.age_minutes):>9} old  {held:<20} {_safe(e.excerpt[:50])}"
        )
    if not entries:
        typer.echo("queue empty" + (f" for pod {pod}" if pod else ""))


@cases_app.command("claim")
def cases_claim(
    case_id: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Claim a case, as you; a case someone else holds is refused, naming them."""
    from tools.casework import claim

    work = claim(_store(), _catalogue(), case_id, actor=_me(), directory=_directory())
    if as_json:
        _echo_json(work)
        return
    typer.echo(f"{work.case_id} claimed by {work.claimed_by} ({work.pod}); status {work.status}")


@cases_app.command("release")
def cases_release(case_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Put a case you hold back in its queue."""
    from tools.casework import release

    work = release(_store(), _catalogue(), case_id, actor=_me())
    if as_json:
        _echo_json(work)
        return
    typer.echo(f"{work.case_id} released; status {work.status}")


@cases_app.command("reassign")
def cases_reassign(
    case_id: str,
    to: Annotated[str, typer.Option("--to", help="Slack user id of the specialist to hand it to")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hand an open case to another specialist (recorded as done by you)."""
    from tools.casework import reassign

    work = reassign(_store(), _catalogue(), case_id, actor=_me(), to=to, directory=_directory())
    if as_json:
        _echo_json(work)
        return
    typer.echo(f"{work.case_id} reassigned to {work.claimed_by}")


@cases_app.command("decide")
def cases_decide(
    case_id: str,
    violating: Annotated[bool, typer.Option("--violating", help="the content violates")] = False,
    not_violating: Annotated[
        bool, typer.Option("--not-violating", help="the content does not violate")
    ] = False,
    escalate: Annotated[bool, typer.Option("--escalate", help="escalate to the pod")] = False,
    section: Annotated[
        str | None,
        typer.Option(help="violated section (or, with --not-violating, the exception)"),
    ] = None,
    action: Annotated[str | None, typer.Option(help="an action the section allows")] = None,
    note: Annotated[str | None, typer.Option(help="what you saw (violating)")] = None,
    reason: Annotated[str | None, typer.Option(help="why (not violating, escalate)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record your own decision on a case (no automation gate applies to it)."""
    from knowledge.vocabulary import ActionType
    from tools.casework import CaseworkError, decide
    from tools.gateway import build_gateway
    from warden.settings import get_settings

    chosen = [name for name, on in (("violating", violating), ("not_violating", not_violating),
                                    ("escalated", escalate)) if on]  # fmt: skip
    if len(chosen) != 1:
        raise CaseworkError("Say exactly one of --violating, --not-violating or --escalate.")
    verdict = chosen[0]
    actor = _me()
    store = _store()
    catalogue = _catalogue()
    kind = None
    if action is not None:
        try:
            kind = ActionType(action)
        except ValueError:
            allowed = ", ".join(a.value for a in ActionType)
            raise CaseworkError(f"Unknown action {action!r}; one of: {allowed}.") from None
    gateway = build_gateway(get_settings(), store.engine) if verdict == "violating" else None
    result = decide(
        store,
        catalogue,
        gateway,
        case_id,
        actor=actor,
        verdict=verdict,  # type: ignore[arg-type]
        section_id=section if verdict == "violating" else None,
        action=kind,
        note=note,
        reason=reason,
        exception_section=section if verdict == "not_violating" else None,
        directory=_directory(),
    )
    if as_json:
        _echo_json(result)
        return
    c = result.case
    typer.echo(f"{c.case_id}: {c.decision} by {c.decided_by}; status {c.status}")
    for effect in result.strike_effects:
        crossed = (
            f" -> {effect.threshold_crossed.value}"
            + (f" for {effect.restriction_days} days" if effect.restriction_days else "")
            if effect.threshold_crossed
            else ""
        )
        typer.echo(
            f"  strike: {effect.account_id} {effect.active_before} -> {effect.active_after} "
            f"in {effect.window_days} days{crossed}"
        )
    if result.waiting_for_second_reviewer:
        typer.echo(
            f"  {result.proposal_status}: this action needs a second reviewer "
            f"({len(result.approvals)} of {result.required_reviewers}); proposal {c.proposal_id}"
        )
    if result.statement_ids:
        typer.echo(f"  statements of reasons: {', '.join(result.statement_ids)}")


@cases_app.command("stats")
def cases_stats(
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Median and 90th-percentile handling time (claim -> decision) and time to first claim."""
    from tools.casework import stats

    figures = stats(_store())
    if as_json:
        _echo_json(figures)
        return
    t, h = figures.time_to_claim, figures.handling
    typer.echo(
        f"time to first claim: median {_mins(t.median_minutes)}, p90 {_mins(t.p90_minutes)} "
        f"({t.n} cases)"
    )
    typer.echo(
        f"handling time (claim -> decision): median {_mins(h.median_minutes)}, "
        f"p90 {_mins(h.p90_minutes)} ({h.n} decisions)"
    )
    decided = ", ".join(f"{k} {n}" for k, n in figures.decisions.items()) or "none"
    typer.echo(f"decisions: {decided}")


@appeal_app.command("file")
def appeal_file(
    target: Annotated[str, typer.Argument(help="the case id or the action key appealed")],
    reason: Annotated[str, typer.Option(help="the affected account's grounds")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """File an appeal for the affected account (stands in for the platform's call)."""
    from tools.appeals import file_appeal

    appeal = file_appeal(_store(), _catalogue(), target, reason=reason)
    if as_json:
        _echo_json(appeal)
        return
    typer.echo(
        f"appeal {appeal.id} filed for {appeal.account_id} against {appeal.case_id or '-'} "
        f"({appeal.pod}); due {appeal.sla_due_at:%Y-%m-%d %H:%M} UTC"
    )


@appeal_app.command("decide")
def appeal_decide(
    appeal_id: str,
    uphold: Annotated[bool, typer.Option("--uphold", help="the decision stands")] = False,
    overturn: Annotated[bool, typer.Option("--overturn", help="reverse the decision")] = False,
    reason: Annotated[str, typer.Option(help="why (the account is told)")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Decide an appeal, as you: someone who neither made nor approved the decision."""
    from tools.appeals import decide_appeal
    from tools.casework import CaseworkError
    from tools.gateway import build_gateway
    from warden.settings import get_settings

    if uphold == overturn:
        raise CaseworkError("Say exactly one of --uphold or --overturn.")
    actor = _me()
    store = _store()
    result = decide_appeal(
        store,
        _catalogue(),
        build_gateway(get_settings(), store.engine),
        appeal_id,
        actor=actor,
        outcome="overturned" if overturn else "upheld",
        reason=reason,
    )
    if as_json:
        _echo_json(result)
        return
    typer.echo(f"appeal {result.appeal.id} {result.appeal.outcome} by {result.appeal.decided_by}")
    for line in result.summary():
        typer.echo(f"  {line}")


@appeal_app.command("list")
def appeal_list(
    pod: Annotated[str | None, typer.Option(help="only this pod's appeals")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pending appeals per pod, oldest deadline first."""
    from tools.appeals import pending

    items = pending(_store(), pod=pod)
    if as_json:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in items], indent=2))
        return
    for a in items:
        typer.echo(
            f"{a.id}  {a.pod or '-':<16} {a.case_id or a.action_key:<14} "
            f"due {a.sla_due_at:%m-%d %H:%M}  {_safe((a.grounds or '')[:50])}"
        )
    if not items:
        typer.echo("no pending appeals")
