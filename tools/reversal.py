"""Undoing what an enforced decision did to an account: the platform reversal, its strikes, the
restrictions it caused.

Two paths reverse a decision: an overturned appeal (tools.appeals) and an approved QA reversal
proposal (executed by tools.fanout). Both undo through here, so the invariant holds across them:
an action is reversed on the platform at most once (its reversal key is the same whichever path
sends it, and the platform answers a key it has seen with its first receipt), and a strike is
overturned once (only strikes still standing are overturned).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from tools import restrictions, strikes
from tools.audit import EventSpec
from tools.casework_tables import RestrictionRow
from tools.fanout_tables import APPLIED, LedgerRow
from tools.gateway import (
    BatchOutcome,
    EnforcementGateway,
    GatewayItem,
    ReversibleGateway,
    reversal_key,
)
from tools.models import DecisionAutomation, PlannedAction, StatementOfReasons
from tools.reasons import add_statement
from tools.store import Store
from tools.tables import ContentRow, StrikeRow
from warden.errors import ApprovalError, GatewayError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue, PolicyEntry


@dataclass
class Undone:
    """What undoing a decision for one account changed (audit events not yet appended)."""

    strikes_overturned: list[str] = field(default_factory=list)
    restrictions_lifted: list[str] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)


def account_of(action: PlannedAction, authors: dict[str, str]) -> str | None:
    """The account an action hit: its target, or the author of its content."""
    return action.target_id if action.target_type == "account" else authors.get(action.target_id)


def applied_actions(
    session: Session, proposal_id: str, *, account_id: str | None = None
) -> list[tuple[PlannedAction, str]]:
    """The applied actions of a proposal with their keys, in ledger order; only those against
    `account_id` when given (a bulk proposal hit many accounts)."""
    rows = session.scalars(
        select(LedgerRow)
        .where(LedgerRow.proposal_id == proposal_id, LedgerRow.status == APPLIED)
        .order_by(LedgerRow.seq)
    ).all()
    content = [r.target_id for r in rows if r.target_type == "content"]
    authors = {
        str(c): str(a)
        for c, a in session.execute(
            select(ContentRow.id, ContentRow.author_id).where(ContentRow.id.in_(content))
        )
    }
    out = []
    for r in rows:
        action = PlannedAction(
            target_type=r.target_type,
            target_id=r.target_id,
            action=r.action,
            section_id=r.section_id,
        )
        if account_id is None or account_of(action, authors) == account_id:
            out.append((action, r.idempotency_key))
    return out


def reverse(
    gateway: EnforcementGateway | ReversibleGateway | None,
    items: Sequence[GatewayItem],
    *,
    proposal_id: str,
) -> list[BatchOutcome]:
    """Send reversals (items carry reversal keys) for the decision `proposal_id` to the platform;
    refuse a platform that cannot reverse."""
    if not isinstance(gateway, ReversibleGateway):
        raise ApprovalError(
            "The enforcement platform cannot reverse actions; nothing was reversed or recorded."
        )
    return gateway.reverse_batch(items, proposal_id=proposal_id)


def reverse_all(
    gateway: EnforcementGateway | ReversibleGateway | None,
    applied: Sequence[tuple[PlannedAction, str]],
    *,
    proposal_id: str,
) -> list[str]:
    """Reverse every one of `applied` (action, original key); the reversal keys, or raise."""
    items = [GatewayItem(action=a, idempotency_key=reversal_key(k)) for a, k in applied]
    results = reverse(gateway, items, proposal_id=proposal_id)
    failed = [r for r in results if r.receipt is None]
    if failed:
        raise GatewayError(
            f"The platform refused to reverse {len(failed)} action(s) ({failed[0].error}); "
            "nothing was recorded — try again."
        )
    return [r.idempotency_key for r in results]


def undo_effects(
    session: Session,
    store: Store,
    catalogue: Catalogue,
    *,
    proposal_id: str,
    account_id: str | None,
    actor: str,
    reason: str,
    now: datetime,
    source: str,
) -> Undone:
    """Overturn the strikes the decision gave the account and lift the restrictions it caused."""
    undone = Undone()
    # Lifted before (an earlier path) is not lifted now; a strike's own restriction is, below.
    already = set(
        session.scalars(
            select(RestrictionRow.id).where(
                RestrictionRow.proposal_id == proposal_id, RestrictionRow.lifted_at.is_not(None)
            )
        )
    )
    standing = session.scalars(
        select(StrikeRow).where(
            StrikeRow.source_action_key.startswith(f"{proposal_id}:", autoescape=True),
            StrikeRow.account_id == account_id,
            StrikeRow.overturned.is_(False),
        )
    ).all()
    for strike in standing:
        strikes.overturn(
            store,
            catalogue,
            strike_id=strike.id,
            actor=actor,
            reason=reason,
            now=now,
            session=session,
            source=source,
        )
        undone.strikes_overturned.append(strike.id)
    undone.events += restrictions.lift(
        session,
        proposal_id=proposal_id,
        account_id=account_id,
        actor=actor,
        reason=reason,
        now=now,
        source=source,
    )
    undone.restrictions_lifted = sorted(
        str(r.id)
        for r in session.scalars(
            select(RestrictionRow).where(
                RestrictionRow.proposal_id == proposal_id,
                RestrictionRow.account_id == account_id,
                RestrictionRow.lifted_at.is_not(None),
            )
        )
        if r.id not in already
    )
    return undone


def still_standing(session: Session, proposal_id: str, account_id: str) -> bool:
    """Whether an applied action of the decision against the account has not been reversed
    through the ledger (its strikes stand as long as one does)."""
    keys = [
        reversal_key(k) for _a, k in applied_actions(session, proposal_id, account_id=account_id)
    ]
    done = set(
        session.scalars(
            select(LedgerRow.idempotency_key).where(
                LedgerRow.idempotency_key.in_(keys), LedgerRow.status == APPLIED
            )
        )
    )
    return any(k not in done for k in keys)


def issue_notice(
    session: Session,
    *,
    action_key: str,
    account_id: str,
    restriction: str,
    scope: str,
    facts: str,
    policy: PolicyEntry | None,
    explanation: str,
    redress: list[str],
    now: datetime,
) -> str:
    """Tell the account how a review of a decision ended; return the statement's id.

    An outcome notice (its key starts `appeal:` or `reversal:`) is not a restriction, so the
    Transparency Database never receives it (tools.dsa.is_notice)."""
    statement = StatementOfReasons(
        id=f"sor_{uuid.uuid4().hex[:16]}",
        action_key=action_key,
        account_id=account_id,
        content_id=None,
        issued_at=now,
        restriction=restriction,
        scope=scope,
        duration="Final for this review.",
        facts=facts,
        automated_detection=False,
        automated_decision=DecisionAutomation.NOT_AUTOMATED,
        policy_ground=f"{policy.title} policy" if policy else "our policies",
        policy_explanation=explanation + (f" Policy version {policy.version}." if policy else ""),
        policy_version=policy.version if policy else "-",
        redress=redress,
    )
    add_statement(session, statement)
    return statement.id


_RESTORED = {
    "content": "your content is restored",
    "account": "the restriction on your account is removed",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def reversal_notice(
    session: Session,
    catalogue: Catalogue,
    *,
    proposal_id: str,
    original_id: str,
    policy_id: str,
    account_id: str,
    reversed_actions: Sequence[PlannedAction],
    undone: Undone,
    rest_stands: bool,
    now: datetime,
) -> str:
    """The notice of a QA reversal: which of the decision's actions were undone, and whether
    its strike and restrictions went with them."""
    policy = catalogue.policies.get(policy_id)
    what = sorted({_RESTORED[a.target_type] for a in reversed_actions})
    extra = []
    if undone.strikes_overturned:
        extra.append("the strike it gave your account is removed")
    if undone.restrictions_lifted:
        extra.append("the account restrictions it caused are lifted")
    if rest_stands:
        extra.append("the rest of the decision, and any strike it gave your account, still stands")
    return issue_notice(
        session,
        action_key=f"reversal:{proposal_id}:{account_id}",
        account_id=account_id,
        restriction="A review found our decision was wrong, and it was reversed.",
        scope=_sentence("; ".join(what + extra)),
        facts=(
            "Our quality review of decisions re-examined this one and found that it did not "
            f"follow our policy; {len(reversed_actions)} action(s) on your account or content "
            "were undone."
        ),
        policy=policy,
        explanation=f"Decision {original_id} was reversed on our own review.",
        redress=[],
        now=now,
    )
