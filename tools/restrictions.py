"""Account restrictions: limited distribution and suspensions as states with a start and an end.

A strike threshold (the catalogue's `strikes.thresholds`), a severe section's `on_violation`
or a suspend action puts one in place; it ends by itself at its end date, or early when the
decision behind it is overturned. The account's status is derived from the active ones. Each
restriction gets its own statement of reasons and audit event.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType, RestrictionType
from tools.audit import EventSpec
from tools.casework_tables import RestrictionRow
from tools.models import AccountStatus, DecisionAutomation, StatementOfReasons
from tools.reasons import REDRESS, add_statement
from tools.store import utc
from tools.tables import AccountRow

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue, RestrictionSpec

_WHAT = {
    RestrictionType.LIMIT_DISTRIBUTION: (
        "The distribution of your account's content was limited: it is not recommended or "
        "shown in feeds and search.",
        "Your whole account: everything it posts while the restriction lasts.",
    ),
    RestrictionType.SUSPEND: (
        "Your account was suspended.",
        "Your whole account: you cannot post, comment or message while it is suspended.",
    ),
}


class Restriction(BaseModel):
    """One account restriction as `warden strikes show --json` prints it."""

    id: str
    account_id: str
    restriction: RestrictionType
    policy_id: str
    section_id: str | None
    reason: str
    starts_at: datetime
    ends_at: datetime | None
    cause_key: str
    proposal_id: str | None
    statement_id: str | None
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def active(self, now: datetime) -> bool:
        return (
            self.lifted_at is None
            and self.starts_at <= now
            and (self.ends_at is None or self.ends_at > now)
        )


def restriction_of(row: RestrictionRow) -> Restriction:
    return Restriction(
        id=row.id,
        account_id=row.account_id,
        restriction=RestrictionType(row.restriction),
        policy_id=row.policy_id,
        section_id=row.section_id,
        reason=row.reason,
        starts_at=utc(row.starts_at),
        ends_at=utc(row.ends_at) if row.ends_at else None,
        cause_key=row.cause_key,
        proposal_id=row.proposal_id,
        statement_id=row.statement_id,
        lifted_at=utc(row.lifted_at) if row.lifted_at else None,
        lifted_by=row.lifted_by,
    )


def proposal_of_key(key: str) -> str | None:
    """The proposal an idempotency key belongs to (`prop_...:target_type:...`)."""
    head = key.split(":", 1)[0]
    return head if head.startswith("prop_") else None


def restrict(
    session: Session,
    catalogue: Catalogue,
    *,
    account_id: str,
    spec: RestrictionSpec,
    section_id: str,
    cause_key: str,
    reason: str,
    actor: str,
    source: str,
    now: datetime,
    automated_decision: DecisionAutomation = DecisionAutomation.PARTIALLY,
) -> tuple[Restriction | None, list[EventSpec]]:
    """Put a restriction in place once per cause; return it and its audit events (not appended).

    None when this cause already restricted the account (a replayed batch, a retry).
    """
    if session.scalar(select(RestrictionRow.id).where(RestrictionRow.cause_key == cause_key)):
        return None, []
    section = catalogue.section(section_id)
    policy = catalogue.policy(section.policy_id)
    ends = now + timedelta(days=spec.days) if spec.days else None
    restriction_id = f"rst_{uuid.uuid4().hex[:16]}"
    what, scope = _WHAT[spec.restriction]
    duration = (
        f"{spec.days} days, until {ends:%Y-%m-%d %H:%M} UTC; it ends by itself."
        if ends
        else "Until it is lifted on appeal or review."
    )
    statement = StatementOfReasons(
        id=f"sor_{uuid.uuid4().hex[:16]}",
        action_key=f"restriction:{restriction_id}",
        account_id=account_id,
        content_id=None,
        issued_at=now,
        restriction=what,
        scope=scope,
        duration=duration,
        facts=reason,
        automated_detection=False,
        automated_decision=automated_decision,
        policy_ground=f"{policy.title} policy, section {section.id} “{section.title}”",
        policy_explanation=(
            f"Our {policy.title} policy, version {policy.version}, restricts an account that "
            f"reaches its strike thresholds or commits a severe violation: {reason}"
        ),
        policy_version=policy.version,
        redress=list(REDRESS),
        # What the Transparency Database needs (tools.dsa): an account decision with its end.
        section_id=section.id,
        action=ActionType(spec.restriction.value),
        target_type="account",
        ends_at=ends,
    )
    row = RestrictionRow(
        id=restriction_id,
        account_id=account_id,
        restriction=spec.restriction.value,
        policy_id=policy.id,
        section_id=section.id,
        reason=reason,
        starts_at=now,
        ends_at=ends,
        cause_key=cause_key,
        proposal_id=proposal_of_key(cause_key),
        statement_id=statement.id,
    )
    session.add(row)
    add_statement(session, statement)
    account = session.get(AccountRow, account_id)
    if account is not None:
        ranked = _status_of([restriction_of(row)], now)
        if account.status == AccountStatus.ACTIVE or ranked == AccountStatus.SUSPENDED:
            account.status = ranked.value
    session.flush()
    event = EventSpec(
        actor=actor,
        verb="restriction.applied",
        subject=f"account:{account_id}",
        source=source,
        outcome=spec.restriction.value,
        policy_id=policy.id,
        section_id=section.id,
        policy_version=policy.version,
        details={
            "restriction_id": restriction_id,
            "restriction": spec.restriction.value,
            "days": spec.days,
            "ends_at": ends.isoformat() if ends else None,
            "cause_key": cause_key,
            "reason": reason,
            "statement_id": statement.id,
        },
        at=now,
    )
    return restriction_of(row), [event]


def _status_of(restrictions: list[Restriction], now: datetime) -> AccountStatus:
    active = [r.restriction for r in restrictions if r.active(now)]
    if RestrictionType.SUSPEND in active:
        return AccountStatus.SUSPENDED
    if RestrictionType.LIMIT_DISTRIBUTION in active:
        return AccountStatus.LIMITED
    return AccountStatus.ACTIVE


def restrictions_of(session: Session, account_id: str) -> list[Restriction]:
    rows = session.scalars(
        select(RestrictionRow)
        .where(RestrictionRow.account_id == account_id)
        .order_by(RestrictionRow.starts_at, RestrictionRow.id)
    )
    return [restriction_of(r) for r in rows]


def account_status(session: Session, account_id: str, stored: str, now: datetime) -> AccountStatus:
    """The account's status now: from its restrictions when it has any (they end by themselves),
    else as stored (an account suspended before restrictions were recorded)."""
    restrictions = restrictions_of(session, account_id)
    if not restrictions:
        return AccountStatus(stored)
    return _status_of(restrictions, utc(now))


def lift(
    session: Session,
    *,
    proposal_id: str | None = None,
    cause_keys: list[str] | None = None,
    account_id: str | None = None,
    actor: str,
    reason: str,
    now: datetime,
    source: str = "appeal",
) -> list[EventSpec]:
    """Lift the active restrictions a proposal (or these causes) put in place; audited."""
    query = select(RestrictionRow).where(RestrictionRow.lifted_at.is_(None))
    if proposal_id is not None and cause_keys:
        query = query.where(
            (RestrictionRow.proposal_id == proposal_id) | RestrictionRow.cause_key.in_(cause_keys)
        )
    elif proposal_id is not None:
        query = query.where(RestrictionRow.proposal_id == proposal_id)
    elif cause_keys:
        query = query.where(RestrictionRow.cause_key.in_(cause_keys))
    else:
        return []
    if account_id is not None:
        query = query.where(RestrictionRow.account_id == account_id)
    events = []
    for row in session.scalars(query.with_for_update()).all():
        session.execute(
            update(RestrictionRow)
            .where(RestrictionRow.id == row.id, RestrictionRow.lifted_at.is_(None))
            .values(lifted_at=now, lifted_by=actor, lift_reason=reason)
            .execution_options(synchronize_session=False)
        )
        events.append(
            EventSpec(
                actor=actor,
                verb="restriction.lifted",
                subject=f"account:{row.account_id}",
                source=source,
                outcome="lifted",
                policy_id=row.policy_id,
                section_id=row.section_id,
                details={
                    "restriction_id": row.id,
                    "restriction": row.restriction,
                    "reason": reason,
                },
                at=now,
            )
        )
        session.expire(row)
        account = session.get(AccountRow, row.account_id)
        if account is not None:
            account.status = account_status(session, row.account_id, "active", now).value
    return events
