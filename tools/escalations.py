"""Escalation tickets: routed and prioritised by the catalogue, with an SLA clock and reminders.

Imminent harm (a flagged section, or the specialist saying so) routes to P0 and the on-call
channel. A route that cannot be resolved raises: an escalation is never silently dropped.
Reminders: breach level n is reached when a ticket is still unresolved n SLA periods after it
opened; each (ticket, level) is claimed once in the store, so two workers never both remind.
Re-pages: a P0/P1 ticket nobody has acknowledged n ack windows after it opened is re-paged once
per window; re-page n is claimed as reminder level -n, so the same primary key keeps it once.

Triage (take, assign, acknowledge, change priority, note, resolve, reopen) is one audited
transition each; the audit events of a ticket are its timeline (`timeline`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge.vocabulary import Priority
from tools.audit import EventSpec, append_many
from tools.models import Escalation, EscalationStatus
from tools.store import Store, escalation_from_row, utc, utcnow
from tools.tables import CaseRow, EscalationReminderRow, EscalationRow
from warden.errors import ConfigError, InputError, NotFoundError, WardenError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

MAX_REMINDER_LEVEL = 3


class RouteError(WardenError):
    """The escalation could not be routed; it was not opened, and the specialist is told why."""


class Reminder(BaseModel):
    """One SLA breach reminder to post (after `mark_reminded` claims it)."""

    escalation_id: str
    level: int
    priority: Priority
    channel: str
    owner_id: str | None
    overdue_minutes: int
    summary: str
    slack_channel: str | None = None
    slack_ts: str | None = None


def open_escalation(
    store: Store,
    catalogue: Catalogue,
    *,
    policy_id: str,
    section_ids: list[str] | None = None,
    case_id: str | None,
    opened_by: str,
    summary: str,
    imminent: bool = False,
    owner_id: str | None = None,
    now: datetime | None = None,
    model: str | None = None,
    prompt_id: str | None = None,
) -> Escalation:
    """Open a ticket routed by policy and severity; raise `RouteError` if it cannot be routed."""
    now = utc(now or utcnow())
    if not summary.strip():
        raise InputError("An escalation needs a summary of what is known.")
    sections = list(section_ids or [])
    try:
        # Route on the most urgent cited section: any imminent-harm section makes it imminent.
        routes = [catalogue.route(policy_id, sid, imminent=imminent) for sid in sections] or [
            catalogue.route(policy_id, None, imminent=imminent)
        ]
    except (NotFoundError, KeyError) as exc:
        raise RouteError(
            f"Could not route an escalation for policy {policy_id!r} "
            f"(sections {', '.join(sections) or 'none'}): {exc}. Nothing was opened; check "
            "the policy id, or post in the policy team's channel directly."
        ) from exc
    route = min(routes, key=lambda r: list(Priority).index(r.priority))
    if not route.channel or not route.channel.strip():
        raise RouteError(
            f"The catalogue has no escalation channel for {policy_id} ({route.pod}); "
            "nothing was opened. Ask the policy team to set one."
        )
    if route.sla_minutes <= 0:
        raise ConfigError(f"{policy_id}: SLA for {route.priority} must be positive minutes.")
    with store.session() as s:
        if case_id is not None:
            case = s.get(CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"No case {case_id!r}; import it before escalating.")
            case.status = "escalated"
        row = EscalationRow(
            id=f"esc_{uuid.uuid4().hex[:12]}",
            case_id=case_id,
            policy_id=policy_id,
            section_ids=sections,
            priority=route.priority.value,
            pod=route.pod,
            channel=route.channel,
            on_call=route.on_call,
            owner_id=owner_id,
            opened_by=opened_by,
            status=EscalationStatus.OPEN.value,
            opened_at=now,
            sla_due_at=now + timedelta(minutes=route.sla_minutes),
            summary=summary,
        )
        s.add(row)
        s.flush()
        if case_id is not None:
            # issue 11: escalating a case is its handler's decision on it (who, when, how long).
            from tools.casework import record_escalation

            record_escalation(s, case_id, opened_by, row.id, summary, now)
        append_many(
            s,
            [
                EventSpec(
                    actor=opened_by,
                    verb="escalation.opened",
                    subject=f"escalation:{row.id}",
                    source="warden",
                    outcome=route.priority.value,
                    policy_id=policy_id,
                    section_id=sections[0] if sections else None,
                    policy_version=catalogue.policy(policy_id).version,
                    model=model,
                    prompt_id=prompt_id,
                    details={
                        "case_id": case_id,
                        "channel": route.channel,
                        "on_call": route.on_call,
                        "sla_minutes": route.sla_minutes,
                    },
                    at=now,
                )
            ],
        )
        return escalation_from_row(row)


def _change(
    store: Store,
    escalation_id: str,
    *,
    actor: str,
    verb: str,
    now: datetime,
    allowed: tuple[EscalationStatus, ...],
    values: dict[str, object],
    details: dict[str, object],
) -> Escalation:
    with store.session() as s:
        row = s.scalars(
            select(EscalationRow).where(EscalationRow.id == escalation_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"No escalation {escalation_id!r}; see `warden escalations list`.")
        if row.status not in allowed:
            raise InputError(f"Escalation {escalation_id} is {row.status}; cannot {verb} it.")
        if values:
            s.execute(
                update(EscalationRow)
                .where(EscalationRow.id == escalation_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        append_many(
            s,
            [
                EventSpec(
                    actor=actor,
                    verb=f"escalation.{verb}",
                    subject=f"escalation:{escalation_id}",
                    outcome=str(values.get("status", row.status)),
                    policy_id=row.policy_id,
                    details=details,
                    at=now,
                )
            ],
        )
        s.flush()
        s.refresh(row)
        return escalation_from_row(row)


def acknowledge(
    store: Store, escalation_id: str, *, user_id: str, now: datetime | None = None
) -> Escalation:
    """Take the ticket: it becomes acknowledged and owned by `user_id` (if it had no owner)."""
    now = utc(now or utcnow())
    current = store.get_escalation(escalation_id)
    return _change(
        store,
        escalation_id,
        actor=user_id,
        verb="acknowledge",
        now=now,
        allowed=(EscalationStatus.OPEN,),
        values={
            "status": EscalationStatus.ACKNOWLEDGED.value,
            "acknowledged_at": now,
            "owner_id": current.owner_id or user_id,
        },
        details={},
    )


def reassign(
    store: Store, escalation_id: str, *, owner_id: str, by: str, now: datetime | None = None
) -> Escalation:
    now = utc(now or utcnow())
    return _change(
        store,
        escalation_id,
        actor=by,
        verb="reassign",
        now=now,
        allowed=(EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED),
        values={"owner_id": owner_id},
        details={"owner_id": owner_id},
    )


def take(
    store: Store, escalation_id: str, *, user_id: str, now: datetime | None = None
) -> Escalation:
    """Make `user_id` the owner (Take on the card); the ticket stays in its state."""
    now = utc(now or utcnow())
    return _change(
        store,
        escalation_id,
        actor=user_id,
        verb="take",
        now=now,
        allowed=(EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED),
        values={"owner_id": user_id},
        details={"owner_id": user_id},
    )


def set_priority(
    store: Store,
    catalogue: Catalogue,
    escalation_id: str,
    *,
    priority: Priority,
    by: str,
    now: datetime | None = None,
) -> Escalation:
    """Re-prioritise: the SLA deadline becomes opened + the policy's SLA for the new priority."""
    now = utc(now or utcnow())
    current = store.get_escalation(escalation_id)
    if current.policy_id is None:
        raise InputError(f"Escalation {escalation_id} has no policy, so no SLA to re-compute.")
    windows = catalogue.policy(current.policy_id).escalation.sla_minutes
    if priority not in windows:
        allowed = ", ".join(p.value for p in windows)
        raise InputError(
            f"{current.policy_id} has no SLA for {priority.value}; choose one of {allowed}."
        )
    if priority == current.priority:
        raise InputError(f"Escalation {escalation_id} is already {priority.value}.")
    return _change(
        store,
        escalation_id,
        actor=by,
        verb="priority",
        now=now,
        allowed=(EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED),
        values={
            "priority": priority.value,
            "sla_due_at": current.opened_at + timedelta(minutes=windows[priority]),
        },
        details={"from": current.priority.value, "to": priority.value},
    )


MAX_NOTE = 2000


def add_note(
    store: Store, escalation_id: str, *, by: str, text: str, now: datetime | None = None
) -> Escalation:
    """Add a note to the ticket's timeline (any state; the note lives in the audit log)."""
    text = text.strip()
    if not text:
        raise InputError("A note needs some text.")
    if len(text) > MAX_NOTE:
        raise InputError(f"A note is at most {MAX_NOTE} characters (this one is {len(text)}).")
    now = utc(now or utcnow())
    return _change(
        store,
        escalation_id,
        actor=by,
        verb="note",
        now=now,
        allowed=tuple(EscalationStatus),
        values={},
        details={"note": text},
    )


def resolve(
    store: Store,
    escalation_id: str,
    *,
    by: str,
    resolution: str,
    remediation: str | None = None,
    policy_gap: bool = False,
    now: datetime | None = None,
) -> Escalation:
    """Close the ticket with its outcome, what was done, and whether the policy has a gap."""
    if not resolution.strip():
        raise InputError("Say how the escalation was resolved (it goes in the audit log).")
    now = utc(now or utcnow())
    details: dict[str, object] = {"resolution": resolution, "policy_gap": policy_gap}
    if remediation and remediation.strip():
        details["remediation"] = remediation.strip()
    return _change(
        store,
        escalation_id,
        actor=by,
        verb="resolve",
        now=now,
        allowed=(EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED),
        values={
            "status": EscalationStatus.RESOLVED.value,
            "resolved_at": now,
            "resolution": resolution,
        },
        details=details,
    )


def reopen(
    store: Store, escalation_id: str, *, by: str, reason: str = "", now: datetime | None = None
) -> Escalation:
    """Reopen a resolved ticket; it needs acknowledging again."""
    now = utc(now or utcnow())
    return _change(
        store,
        escalation_id,
        actor=by,
        verb="reopen",
        now=now,
        allowed=(EscalationStatus.RESOLVED,),
        values={
            "status": EscalationStatus.OPEN.value,
            "resolved_at": None,
            "acknowledged_at": None,
            "resolution": None,
        },
        details={"reason": reason.strip()} if reason.strip() else {},
    )


class Step(BaseModel):
    """One step of a ticket's timeline, read from the audit log."""

    verb: str  # opened, take, reassign, acknowledge, priority, note, resolve, reopen, ...
    actor: str
    at: datetime
    details: dict[str, object]


def timeline(store: Store, escalation_id: str) -> list[Step]:
    """Every audited step of a ticket, oldest first."""
    from tools import audit

    return [
        Step(
            verb=e.verb.removeprefix("escalation."),
            actor=e.actor,
            at=e.at,
            details=dict(e.details),
        )
        for e in audit.events(store, subject=f"escalation:{escalation_id}")
    ]


class Repage(BaseModel):
    """A P0/P1 ticket nobody acknowledged within its ack window: page on-call again."""

    escalation_id: str
    round: int
    priority: Priority
    policy_id: str | None
    owner_id: str | None
    minutes_unacknowledged: int
    slack_channel: str | None = None
    slack_ts: str | None = None


PAGED_PRIORITIES = (Priority.P0, Priority.P1)


def repage(store: Store, catalogue: Catalogue, now: datetime | None = None) -> list[Repage]:
    """Claim and return the re-pages due now (each round of each ticket once)."""
    now = utc(now or utcnow())
    due: list[Repage] = []
    with store.session() as s:
        rows = s.scalars(
            select(EscalationRow).where(
                EscalationRow.status == EscalationStatus.OPEN.value,
                EscalationRow.priority.in_([p.value for p in PAGED_PRIORITIES]),
            )
        ).all()
        found = [escalation_from_row(r) for r in rows]
    for esc in found:
        if esc.policy_id is None or esc.policy_id not in catalogue.policies:
            continue
        window = catalogue.policy(esc.policy_id).escalation.ack_minutes.get(esc.priority)
        if not window:
            continue
        waited = int((now - esc.opened_at).total_seconds() // 60)
        rounds = min(MAX_REMINDER_LEVEL, waited // window)
        if rounds < 1 or not mark_reminded(store, esc.id, -rounds, now=now, verb="repaged"):
            continue
        due.append(
            Repage(
                escalation_id=esc.id,
                round=rounds,
                priority=esc.priority,
                policy_id=esc.policy_id,
                owner_id=esc.owner_id,
                minutes_unacknowledged=waited,
                slack_channel=esc.slack_channel,
                slack_ts=esc.slack_ts,
            )
        )
    return due


def set_slack_message(store: Store, escalation_id: str, *, channel: str, ts: str) -> None:
    """Remember where the ticket was posted, so reminders thread under it."""
    with store.session() as s:
        row = s.get(EscalationRow, escalation_id)
        if row is None:
            raise NotFoundError(f"No escalation {escalation_id!r}.")
        row.slack_channel, row.slack_ts = channel, ts


def list_escalations(
    store: Store, *, status: EscalationStatus | None = None, limit: int = 200
) -> list[Escalation]:
    with store.session() as s:
        query = select(EscalationRow).order_by(EscalationRow.opened_at.desc()).limit(limit)
        if status is not None:
            query = query.where(EscalationRow.status == status.value)
        return [escalation_from_row(r) for r in s.scalars(query)]


def breach_level(esc: Escalation, now: datetime) -> int:
    """0 before the SLA deadline; then 1, 2, ... one per SLA period overdue (capped)."""
    if esc.status == EscalationStatus.RESOLVED or now < esc.sla_due_at:
        return 0
    period = esc.sla_due_at - esc.opened_at
    overdue = now - esc.sla_due_at
    return min(MAX_REMINDER_LEVEL, 1 + int(overdue / period))


def find_breaches(store: Store, now: datetime | None = None) -> list[Reminder]:
    """Unclaimed reminders due now: at most one per ticket (its highest level not yet sent)."""
    now = utc(now or utcnow())
    reminders: list[Reminder] = []
    with store.session() as s:
        rows = s.scalars(
            select(EscalationRow).where(
                EscalationRow.status != EscalationStatus.RESOLVED.value,
                EscalationRow.sla_due_at <= now,
            )
        ).all()
        for row in rows:
            esc = escalation_from_row(row)
            level = breach_level(esc, now)
            sent = set(
                s.scalars(
                    select(EscalationReminderRow.level).where(
                        EscalationReminderRow.escalation_id == row.id
                    )
                )
            )
            sent = {lvl for lvl in sent if lvl > 0}  # negative levels are re-pages
            if level == 0 or level in sent or any(lvl > level for lvl in sent):
                continue
            reminders.append(
                Reminder(
                    escalation_id=esc.id,
                    level=level,
                    priority=esc.priority,
                    channel=esc.channel,
                    owner_id=esc.owner_id,
                    overdue_minutes=int((now - esc.sla_due_at).total_seconds() // 60),
                    summary=esc.summary,
                    slack_channel=esc.slack_channel,
                    slack_ts=esc.slack_ts,
                )
            )
    return reminders


def mark_reminded(
    store: Store,
    escalation_id: str,
    level: int,
    *,
    now: datetime | None = None,
    session: Session | None = None,
    verb: str = "reminded",
) -> bool:
    """Claim the reminder for (ticket, level); False if another worker already claimed it."""
    now = utc(now or utcnow())
    try:
        with store.use(session) as s, s.begin_nested():
            s.add(EscalationReminderRow(escalation_id=escalation_id, level=level, reminded_at=now))
            s.flush()
            row = s.get(EscalationRow, escalation_id)
            if row is not None:
                row.reminded_at = now
            append_many(
                s,
                [
                    EventSpec(
                        actor="warden",
                        verb=f"escalation.{verb}",
                        subject=f"escalation:{escalation_id}",
                        source="sla-worker",
                        outcome=f"breach-level-{level}" if level > 0 else f"repage-{-level}",
                        policy_id=row.policy_id if row else None,
                        details={"level": level},
                        at=now,
                    )
                ],
            )
    except IntegrityError:
        return False
    return True


def sweep(store: Store, now: datetime | None = None) -> list[Reminder]:
    """Find breaches and claim each; return only the reminders this caller must send."""
    now = utc(now or utcnow())
    return [
        r
        for r in find_breaches(store, now)
        if mark_reminded(store, r.escalation_id, r.level, now=now)
    ]


def at_slack_message(store: Store, *, channel: str, ts: str) -> Escalation | None:
    """The ticket whose card is the Slack message (channel, ts), if any."""
    with store.session() as s:
        row = s.scalars(
            select(EscalationRow).where(
                EscalationRow.slack_channel == channel, EscalationRow.slack_ts == ts
            )
        ).first()
        return escalation_from_row(row) if row else None
