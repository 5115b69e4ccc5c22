"""Appeals: the affected account asks for a decision to be reviewed; someone else decides.

Filed by the account (the platform calls Warden; `warden appeal file` stands in for it) against
a case that was enforced or one applied action's key. It waits in the pod's queue with the
policy's SLA (catalogue `appeals.sla_hours`). Only someone who neither made nor approved the
original decision decides it. Upheld: the decision stands. Overturned: everything the decision
did is reversed — the content restored through the gateway (idempotent reversal keys), its
strikes overturned, the restrictions it caused lifted. Both outcomes get a statement of reasons
and audit events; appeal outcomes count in the KPIs (per policy, specialist and vendor team).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tools import restrictions, reversal
from tools.audit import EventSpec, append_many
from tools.casework_tables import CaseWorkRow
from tools.fanout_tables import APPLIED, LedgerRow
from tools.models import CaseStatus
from tools.ops_tables import AppealRow
from tools.reasons import REDRESS
from tools.store import Store, utc, utcnow
from tools.tables import (
    AccountRow,
    ApprovalRow,
    CaseItemRow,
    CaseRow,
    ContentRow,
    ProposalRow,
    StrikeRow,
)
from warden.errors import ApprovalError, InputError, NotFoundError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.gateway import EnforcementGateway


class AppealError(InputError):
    """An appeal that cannot be filed or decided as asked; nothing was changed."""


class AppealRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    action_key: str
    case_id: str | None
    proposal_id: str | None
    policy_id: str | None
    account_id: str | None
    pod: str | None
    grounds: str | None
    filed_at: datetime
    sla_due_at: datetime | None
    outcome: Literal["pending", "upheld", "overturned"]
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    original_decider: str | None
    vendor_team: str | None


class AppealOutcome(BaseModel):
    """What `warden appeal decide --json` prints."""

    appeal: AppealRecord
    restored: list[str] = Field(default_factory=list, description="reversal keys applied")
    strikes_overturned: list[str] = Field(default_factory=list)
    restrictions_lifted: list[str] = Field(default_factory=list)
    account_status: str | None = None
    statement_id: str | None = None

    def summary(self) -> list[str]:
        lines = []
        if self.restored:
            lines.append(f"{len(self.restored)} action(s) reversed on the platform")
        if self.strikes_overturned:
            lines.append(f"strikes overturned: {', '.join(self.strikes_overturned)}")
        if self.restrictions_lifted:
            lines.append(f"restrictions lifted: {', '.join(self.restrictions_lifted)}")
        if self.account_status:
            lines.append(f"account {self.appeal.account_id}: {self.account_status}")
        if self.statement_id:
            lines.append(f"statement of reasons: {self.statement_id}")
        return lines


def _record(row: AppealRow) -> AppealRecord:
    record = AppealRecord.model_validate(row)
    return record.model_copy(
        update={
            "filed_at": utc(record.filed_at),
            "sla_due_at": utc(record.sla_due_at) if record.sla_due_at else None,
            "decided_at": utc(record.decided_at) if record.decided_at else None,
        }
    )


def _resolve(session: Session, target: str) -> tuple[str, str | None]:
    """(proposal id, case id) of an enforced case or an applied action key; refuse otherwise."""
    case = session.get(CaseRow, target)
    if case is not None:
        work = session.get(CaseWorkRow, target)
        proposal_id = work.proposal_id if work is not None else None
        if proposal_id is None:
            raise AppealError(
                f"Case {target} was never enforced ({case.status}"
                + (f", decided {work.decision}" if work and work.decision else "")
                + "); there is nothing to appeal."
            )
        return proposal_id, target
    ledger = session.scalars(
        select(LedgerRow).where(LedgerRow.idempotency_key == target)
    ).one_or_none()
    proposal_id = ledger.proposal_id if ledger is not None and ledger.status == APPLIED else None
    if proposal_id is None:
        strike = session.scalars(
            select(StrikeRow).where(StrikeRow.source_action_key == target)
        ).one_or_none()
        proposal_id = restrictions.proposal_of_key(target) if strike is not None else None
    if proposal_id is None:
        raise NotFoundError(
            f"{target!r} is neither a case nor the key of an applied action; nothing was "
            "enforced under it, so there is nothing to appeal."
        )
    proposal = session.get(ProposalRow, proposal_id)
    return proposal_id, proposal.case_id if proposal is not None else None


def file_appeal(
    store: Store,
    catalogue: Catalogue,
    target: str,
    *,
    reason: str,
    now: datetime | None = None,
) -> AppealRecord:
    """File the affected account's appeal against an enforced case or an applied action."""
    now = utc(now or utcnow())
    if not reason.strip():
        raise AppealError("An appeal needs the account's grounds (--reason).")
    with store.session() as s:
        proposal_id, case_id = _resolve(s, target)
        proposal = s.get(ProposalRow, proposal_id)
        if proposal is None:
            raise NotFoundError(f"No proposal {proposal_id!r} behind {target!r}.")
        applied = s.scalar(
            select(LedgerRow.id).where(
                LedgerRow.proposal_id == proposal_id, LedgerRow.status == APPLIED
            )
        )
        if applied is None:
            raise AppealError(
                f"Nothing of {target!r} has been applied yet ({proposal.status}); an appeal "
                "reviews an enforced decision."
            )
        account = _affected_account(s, proposal, case_id, target)
        earlier = s.scalars(
            select(AppealRow).where(
                AppealRow.proposal_id == proposal_id,
                AppealRow.account_id == account,
                AppealRow.outcome.in_(["pending", "overturned"]),
            )
        ).first()
        if earlier is not None:
            raise AppealError(
                f"Appeal {earlier.id} against this decision is already {earlier.outcome}; "
                "nothing was filed."
            )
        policy = catalogue.policy(proposal.policy_id)
        case = s.get(CaseRow, case_id) if case_id else None
        row = AppealRow(
            id=f"ap-{uuid.uuid4().hex[:16]}",
            action_key=target,
            policy_id=policy.id,
            account_id=account,
            filed_at=now,
            outcome="pending",
            case_id=case_id,
            proposal_id=proposal_id,
            pod=policy.escalation.pod,
            grounds=reason.strip(),
            sla_due_at=now + timedelta(hours=policy.appeals.sla_hours),
            original_decider=proposal.requester_id,
            vendor_team=case.vendor_team if case is not None else None,
        )
        s.add(row)
        if case is not None:
            case.status = CaseStatus.APPEALED.value
        s.flush()
        append_many(
            s,
            [
                EventSpec(
                    actor=f"account:{account}" if account else "platform",
                    verb="appeal.filed",
                    subject=f"appeal:{row.id}",
                    source="platform",
                    outcome="pending",
                    policy_id=policy.id,
                    policy_version=policy.version,
                    proposal_hash=proposal.action_hash,
                    details={
                        "target": target,
                        "case_id": case_id,
                        "proposal_id": proposal_id,
                        "pod": row.pod,
                        "sla_due_at": row.sla_due_at.isoformat() if row.sla_due_at else None,
                    },
                    at=now,
                )
            ],
        )
        return _record(row)


def _affected_account(
    s: Session, proposal: ProposalRow, case_id: str | None, target: str
) -> str | None:
    """The account that appeals: the one the appealed action hit, or the case's author."""
    ledger = s.scalars(select(LedgerRow).where(LedgerRow.idempotency_key == target)).one_or_none()
    if ledger is not None:
        if ledger.target_type == "account":
            return ledger.target_id
        author = s.scalar(select(ContentRow.author_id).where(ContentRow.id == ledger.target_id))
        if author:
            return str(author)
    struck = s.scalar(select(StrikeRow.account_id).where(StrikeRow.source_action_key == target))
    if struck:
        return str(struck)
    for a in proposal.actions:
        if a.get("target_type") == "account":
            return str(a["target_id"])
    if case_id is not None:
        link = select(CaseItemRow.content_id).where(CaseItemRow.case_id == case_id)
        author = s.scalar(select(ContentRow.author_id).where(ContentRow.id.in_(link)))
        return str(author) if author else None
    content = [str(a["target_id"]) for a in proposal.actions if a.get("target_type") == "content"]
    author = s.scalar(select(ContentRow.author_id).where(ContentRow.id.in_(content[:1])))
    return str(author) if author else None


def pending(store: Store, *, pod: str | None = None) -> list[AppealRecord]:
    with store.session() as s:
        query = select(AppealRow).where(AppealRow.outcome == "pending")
        if pod is not None:
            query = query.where(AppealRow.pod == pod)
        rows = s.scalars(query).all()
        records = [_record(r) for r in rows]
    return sorted(records, key=lambda a: (a.sla_due_at or a.filed_at, a.id))


def get_appeal(store: Store, appeal_id: str) -> AppealRecord:
    with store.session() as s:
        row = s.get(AppealRow, appeal_id)
        if row is None:
            raise NotFoundError(f"No appeal {appeal_id!r}; see `warden appeal list`.")
        return _record(row)


_OUTCOME_TEXT = {
    "upheld": (
        "Your appeal was reviewed and the decision stands.",
        "The original decision and its consequences remain in place.",
    ),
    "overturned": (
        "Your appeal succeeded: the decision was reversed.",
        "Everything the decision did was undone: the content is restored, its strike removed "
        "and any account restriction it caused lifted.",
    ),
}


def decide_appeal(
    store: Store,
    catalogue: Catalogue,
    gateway: EnforcementGateway | None,
    appeal_id: str,
    *,
    actor: str,
    outcome: Literal["upheld", "overturned"],
    reason: str,
    now: datetime | None = None,
    source: str = "cli",
) -> AppealOutcome:
    """Uphold or overturn, by someone who took no part in the decision; see the module doc."""
    now = utc(now or utcnow())
    if not reason.strip():
        raise AppealError("An appeal decision needs a reason (the account is told).")
    with store.session() as s:
        row = s.get(AppealRow, appeal_id)
        if row is None:
            raise NotFoundError(f"No appeal {appeal_id!r}; see `warden appeal list`.")
        if row.outcome != "pending":
            raise AppealError(
                f"Appeal {appeal_id} was already decided ({row.outcome} by {row.decided_by})."
            )
        proposal_id = row.proposal_id
        if proposal_id is None:
            raise AppealError(f"Appeal {appeal_id} names no enforced decision.")
        proposal = s.get(ProposalRow, proposal_id)
        assert proposal is not None
        involved = {proposal.requester_id} | set(
            s.scalars(select(ApprovalRow.approver_id).where(ApprovalRow.proposal_id == proposal_id))
        )
        if actor in involved:
            raise AppealError(
                f"<@{actor}> made or approved the decision under appeal; someone who took no "
                "part in it must decide the appeal."
            )
        # Only what the decision did to the appealing account (a bulk proposal hit many).
        applied = reversal.applied_actions(s, proposal_id, account_id=row.account_id)
    restored: list[str] = []
    if outcome == "overturned" and applied:
        # Before the store records anything: a failure leaves the appeal pending, and deciding
        # it again sends the same reversal keys (the platform answers with its first receipt).
        try:
            restored = reversal.reverse_all(gateway, applied, proposal_id=proposal_id)
        except ApprovalError as exc:
            raise AppealError(f"{exc} The appeal stays pending.") from exc
    return _record_outcome(
        store,
        catalogue,
        appeal_id,
        actor=actor,
        outcome=outcome,
        reason=reason.strip(),
        restored=restored,
        now=now,
        source=source,
    )


def _record_outcome(
    store: Store,
    catalogue: Catalogue,
    appeal_id: str,
    *,
    actor: str,
    outcome: Literal["upheld", "overturned"],
    reason: str,
    restored: list[str],
    now: datetime,
    source: str,
) -> AppealOutcome:
    with store.session() as s:
        changed = s.execute(
            update(AppealRow)
            .where(AppealRow.id == appeal_id, AppealRow.outcome == "pending")
            .values(outcome=outcome, decided_by=actor, decided_at=now, reason=reason)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise AppealError(f"Appeal {appeal_id} was decided by someone else first.")
        row = s.get(AppealRow, appeal_id)
        assert row is not None and row.proposal_id is not None
        s.refresh(row)
        proposal_id = row.proposal_id
        events: list[EventSpec] = []
        overturned: list[str] = []
        lifted: list[str] = []
        if outcome == "overturned":
            undone = reversal.undo_effects(
                s,
                store,
                catalogue,
                proposal_id=proposal_id,
                account_id=row.account_id,
                actor=actor,
                reason=f"appeal {appeal_id}: {reason}",
                now=now,
                source="appeal",
            )
            events += undone.events
            overturned, lifted = undone.strikes_overturned, undone.restrictions_lifted
        policy = catalogue.policy(row.policy_id) if row.policy_id else None
        what, scope = _OUTCOME_TEXT[outcome]
        statement_id = reversal.issue_notice(
            s,
            action_key=f"appeal:{appeal_id}",
            account_id=row.account_id or "unknown",
            restriction=what,
            scope=scope,
            facts=f"A reviewer who took no part in the original decision reviewed it: {reason}",
            policy=policy,
            explanation=f"The appeal against decision {proposal_id} was {outcome}.",
            redress=list(REDRESS[1:]) if outcome == "upheld" else [],
            now=now,
        )
        if row.case_id is not None:
            case = s.get(CaseRow, row.case_id)
            if case is not None and case.status == CaseStatus.APPEALED.value:
                case.status = CaseStatus.CLOSED.value
        events.append(
            EventSpec(
                actor=actor,
                verb=f"appeal.{outcome}",
                subject=f"appeal:{appeal_id}",
                source=source,
                outcome=outcome,
                policy_id=row.policy_id,
                policy_version=policy.version if policy else None,
                details={
                    "proposal_id": proposal_id,
                    "case_id": row.case_id,
                    "reason": reason,
                    "reversed": restored,
                    "strikes_overturned": overturned,
                    "restrictions_lifted": lifted,
                    "statement_id": statement_id,
                    "original_decider": row.original_decider,
                },
                at=now,
            )
        )
        if row.case_id is not None:
            events.append(
                EventSpec(
                    actor=actor,
                    verb="case.closed",
                    subject=f"case:{row.case_id}",
                    source=source,
                    outcome="closed",
                    policy_id=row.policy_id,
                    details={"appeal_id": appeal_id, "appeal_outcome": outcome},
                    at=now,
                )
            )
        append_many(s, events)
        status = None
        if row.account_id:
            account = s.get(AccountRow, row.account_id)
            status = (
                restrictions.account_status(s, row.account_id, account.status, now).value
                if account is not None
                else None
            )
        return AppealOutcome(
            appeal=_record(row),
            restored=restored,
            strikes_overturned=overturned,
            restrictions_lifted=lifted,
            account_status=status,
            statement_id=statement_id,
        )
