"""QA sampling: a fraction of decided cases and executed actions goes back to a reviewer.

Sampling is deterministic by a hash of the subject id, so every replica samples the same items
and re-running a sweep never samples an item twice (a unique key backs that up in the store).
`sample_stratified` samples the fraction within every stratum (policy, specialist, vendor team,
automation path) and at least a minimum of each, so a small team or a rare path is still
reviewed: a flat 2% of twelve decisions is none.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tools.models import PlannedAction
from tools.ops_tables import QASampleRow
from tools.store import Store
from warden.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.gates import Gates
    from tools.proposals import Created

DEFAULT_RATE = 0.02
SubjectType = Literal["case", "action"]


def is_sampled(subject_id: str, rate: float = DEFAULT_RATE) -> bool:
    """True for a stable `rate` fraction of ids (the same answer on every machine)."""
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"QA sampling rate must be between 0 and 1, got {rate}.")
    bucket = int.from_bytes(hashlib.sha256(subject_id.encode()).digest()[:8], "big")
    return bucket < rate * 2**64


class QASample(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    subject_type: SubjectType
    subject_id: str
    policy_id: str | None
    vendor_team: str | None
    decided_by: str | None
    decision: str
    decided_at: datetime
    sampled_at: datetime
    reviewer_id: str | None = None
    agree: bool | None = None
    reason: str | None = None
    reviewed_at: datetime | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None
    automation: str | None = None

    @property
    def reviewed(self) -> bool:
        return self.agree is not None


def _sample(row: QASampleRow) -> QASample:
    return QASample.model_validate(row, from_attributes=True)


class Decided(BaseModel):
    """A decision that may be sampled: a decided case or one executed action."""

    subject_type: SubjectType
    subject_id: str
    policy_id: str | None
    decision: str = Field(description="what was decided, e.g. 'remove under HA-2.1'")
    decided_by: str | None
    decided_at: datetime
    vendor_team: str | None = None
    automation: str | None = Field(
        None, description="how it was decided: bulk (detector cluster), auto-proposal, specialist"
    )


STRATA = ("policy_id", "decided_by", "vendor_team", "automation")


def _bucket(item: Decided) -> int:
    key = f"{item.subject_type}:{item.subject_id}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def stratified_choice(
    items: Iterable[Decided], *, rate: float = DEFAULT_RATE, minimum: int = 2
) -> list[Decided]:
    """The items to sample: `rate` of each stratum, and at least `minimum` of each (all of a
    smaller one), in every cut (policy, specialist, vendor team, automation path).

    Deterministic: within a stratum the items with the lowest hash are taken, so a re-run
    (or another replica) chooses the same ones.
    """
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"QA sampling rate must be between 0 and 1, got {rate}.")
    if minimum < 0:
        raise InputError(f"The QA minimum per stratum must be 0 or more, got {minimum}.")
    pool = {f"{i.subject_type}:{i.subject_id}": i for i in items}
    chosen: dict[str, Decided] = {}
    for cut in STRATA:
        strata: dict[str, list[Decided]] = {}
        for item in pool.values():
            strata.setdefault(str(getattr(item, cut) or "(none)"), []).append(item)
        for members in strata.values():
            members.sort(key=_bucket)
            wanted = max(minimum, round(rate * len(members)))
            for item in members[:wanted]:
                chosen[f"{item.subject_type}:{item.subject_id}"] = item
    return sorted(chosen.values(), key=_bucket)


def sample_stratified(
    store: Store,
    items: Iterable[Decided],
    *,
    rate: float = DEFAULT_RATE,
    minimum: int = 2,
    now: datetime | None = None,
) -> list[QASample]:
    """Store QA samples for `stratified_choice(items)` (idempotent)."""
    return [
        sample
        for item in stratified_choice(items, rate=rate, minimum=minimum)
        if (sample := maybe_sample(store, item, rate=1.0, now=now)) is not None
    ]


def maybe_sample(
    store: Store, item: Decided, *, rate: float = DEFAULT_RATE, now: datetime | None = None
) -> QASample | None:
    """Store a QA sample when the item falls in the sampled fraction (idempotent)."""
    if not is_sampled(f"{item.subject_type}:{item.subject_id}", rate):
        return None
    existing = _find(store, item.subject_type, item.subject_id)
    if existing is not None:
        return existing
    row = QASampleRow(
        id=f"qa-{uuid.uuid4().hex[:16]}",
        subject_type=item.subject_type,
        subject_id=item.subject_id,
        policy_id=item.policy_id,
        vendor_team=item.vendor_team,
        decided_by=item.decided_by,
        decision=item.decision,
        decided_at=item.decided_at,
        sampled_at=now or datetime.now(UTC),
        automation=item.automation,
    )
    try:
        with store.session() as s:
            s.add(row)
    except IntegrityError:
        # Another replica sampled the same item a moment earlier: use theirs.
        found = _find(store, item.subject_type, item.subject_id)
        if found is None:
            raise
        return found
    return _sample(row)


def sample_many(
    store: Store,
    items: Iterable[Decided],
    *,
    rate: float = DEFAULT_RATE,
    now: datetime | None = None,
) -> list[QASample]:
    return [s for s in (maybe_sample(store, i, rate=rate, now=now) for i in items) if s is not None]


def _find(store: Store, subject_type: str, subject_id: str) -> QASample | None:
    with store.session() as s:
        row = s.scalars(
            select(QASampleRow).where(
                QASampleRow.subject_type == subject_type, QASampleRow.subject_id == subject_id
            )
        ).first()
        return _sample(row) if row else None


def get_sample(store: Store, sample_id: str) -> QASample:
    with store.session() as s:
        row = s.get(QASampleRow, sample_id)
        if row is None:
            raise NotFoundError(f"No QA sample {sample_id!r}; list them with `warden qa list`.")
        return _sample(row)


def pending(store: Store, *, limit: int = 50, unposted_only: bool = False) -> list[QASample]:
    """Samples waiting for a review, oldest first."""
    with store.session() as s:
        query = select(QASampleRow).where(QASampleRow.agree.is_(None))
        if unposted_only:
            query = query.where(QASampleRow.slack_ts.is_(None))
        query = query.order_by(QASampleRow.sampled_at, QASampleRow.id).limit(limit)
        return [_sample(r) for r in s.scalars(query)]


def mark_posted(store: Store, sample_id: str, *, channel: str, ts: str) -> None:
    with store.session() as s:
        s.execute(
            update(QASampleRow)
            .where(QASampleRow.id == sample_id)
            .values(slack_channel=channel, slack_ts=ts)
        )


class ReviewResult(BaseModel):
    accepted: bool
    sample: QASample
    reason: str
    follow_up: str | None = Field(
        None, description="what a disagreement opened: a reversal proposal for the item"
    )
    reversal_proposal_id: str | None = Field(
        None, description="the proposal (origin qa) that reverses what the decision enforced"
    )
    gate_dropped: bool = Field(False, description="the policy's gate fell back to shadow")


def record_review(
    store: Store,
    sample_id: str,
    *,
    reviewer_id: str,
    agree: bool,
    reason: str | None = None,
    now: datetime | None = None,
    gates: Gates | None = None,
    catalogue: Catalogue | None = None,
) -> ReviewResult:
    """Record a reviewer's verdict once; a second click or a second reviewer is refused.

    A disagreement opens a reversal proposal for what the decision enforced, in the same
    transaction as the verdict, and counts against the policy's gate (`gates`: default, the
    gates file; `catalogue`: default, the configured one)."""
    sample = get_sample(store, sample_id)
    if sample.decided_by and sample.decided_by == reviewer_id:
        return ReviewResult(
            accepted=False,
            sample=sample,
            reason="You made this decision; another reviewer must QA it.",
        )
    if not agree and not (reason and reason.strip()):
        raise InputError("A disagreement needs a reason: say what the right decision was and why.")
    opened: Created | str | None = None
    with store.session() as s:
        result = s.execute(
            update(QASampleRow)
            .where(QASampleRow.id == sample_id, QASampleRow.agree.is_(None))
            .values(
                reviewer_id=reviewer_id,
                agree=agree,
                reason=(reason or "").strip() or None,
                reviewed_at=now or datetime.now(UTC),
            )
        )
        won = bool(getattr(result, "rowcount", 0))
        if won and not agree:
            if catalogue is None:
                from knowledge.catalogue import load_catalogue

                catalogue = load_catalogue()
            row = s.get(QASampleRow, sample_id)
            assert row is not None
            opened = _open_reversal(s, store, catalogue, _sample(row), now=now)
    current = get_sample(store, sample_id)
    if not won:
        return ReviewResult(
            accepted=False,
            sample=current,
            reason=f"Already reviewed by {current.reviewer_id}.",
        )
    if agree:
        return ReviewResult(accepted=True, sample=current, reason="Recorded.")
    return _count_against_gate(store, current, opened, gates=gates, now=now)


def _reversible(s: Session, sample: QASample) -> tuple[str, list[PlannedAction]] | str:
    """(the decision's proposal, its applied actions not yet reversed or being reversed) for
    the sampled item, or why there is nothing to reverse."""
    from tools.fanout_tables import APPLIED, LedgerRow
    from tools.gateway import reversal_key
    from tools.ops_tables import AppealRow
    from tools.reversal import account_of, applied_actions
    from tools.strikes import authors_of
    from tools.tables import ProposalRow

    proposal_id: str | None = None
    applied: list[tuple[PlannedAction, str]] = []
    if sample.subject_type == "action":
        ledger = s.scalars(
            select(LedgerRow).where(LedgerRow.idempotency_key == sample.subject_id)
        ).one_or_none()
        if ledger is not None and ledger.status == APPLIED:
            proposal_id = ledger.proposal_id
            applied = [(a, k) for a, k in applied_actions(s, proposal_id) if k == sample.subject_id]
    else:
        for p in s.scalars(
            select(ProposalRow)
            .where(ProposalRow.case_id == sample.subject_id, ProposalRow.origin != "qa")
            .order_by(ProposalRow.decided_at.desc(), ProposalRow.id)
        ):
            applied = applied_actions(s, p.id)
            if applied:
                proposal_id = p.id
                break
    if proposal_id is None:
        return (
            f"nothing was enforced under {sample.subject_type} {sample.subject_id}, so there "
            "is nothing to reverse"
        )
    original = s.get(ProposalRow, proposal_id)
    if original is not None and original.origin == "qa":
        return f"{sample.subject_id} is itself a reversal"
    # Already reversed (a reversal ledger row) or on its way (an open reversal proposal), or
    # the account won an appeal against the decision: not proposed twice.
    taken = set(
        s.scalars(
            select(LedgerRow.idempotency_key).where(
                LedgerRow.idempotency_key.in_([reversal_key(k) for _a, k in applied])
            )
        )
    )
    open_keys = {
        PlannedAction.model_validate(a).key
        for p in s.scalars(
            select(ProposalRow).where(
                ProposalRow.reverses == proposal_id,
                ProposalRow.status.in_(("pending", "approved", "executing")),
            )
        )
        for a in p.actions
    }
    appealed = set(
        s.scalars(
            select(AppealRow.account_id).where(
                AppealRow.proposal_id == proposal_id, AppealRow.outcome == "overturned"
            )
        )
    )
    authors = authors_of(s, [a for a, _k in applied])
    left = [
        a
        for a, k in applied
        if reversal_key(k) not in taken
        and a.key not in open_keys
        and account_of(a, authors) not in appealed
    ]
    if not left:
        return f"what {proposal_id} did here is already reversed or awaiting its reversal"
    return proposal_id, left


def _open_reversal(
    s: Session, store: Store, catalogue: Catalogue, sample: QASample, *, now: datetime | None
) -> Created | str:
    """Propose reversing what the disagreed decision enforced (audited with the disagreement);
    or say why there is nothing to reverse."""
    from tools.audit import EventSpec, append_many
    from tools.proposals import create_reversal

    found = _reversible(s, sample)
    created = None
    if not isinstance(found, str):
        proposal_id, actions = found
        created = create_reversal(
            store,
            catalogue,
            reverses=proposal_id,
            actions=actions,
            requester_id=sample.reviewer_id or "(unknown)",
            reason=f"QA sample {sample.id}: {sample.reason}",
            now=now,
            session=s,
        )
    append_many(
        s,
        [
            EventSpec(
                actor=sample.reviewer_id or "(unknown)",
                verb="qa.disagreed",
                subject=f"{sample.subject_type}:{sample.subject_id}",
                source="qa",
                outcome="reversal proposed" if created else "nothing to reverse",
                policy_id=sample.policy_id,
                details={
                    "sample_id": sample.id,
                    "decision": sample.decision,
                    "reason": sample.reason,
                    "reversal_proposal_id": created.proposal.id if created else None,
                    "note": found if isinstance(found, str) else None,
                },
                at=now,
            )
        ],
    )
    if created is not None:
        return created
    assert isinstance(found, str)
    return found


def _count_against_gate(
    store: Store,
    sample: QASample,
    opened: Created | str | None,
    *,
    gates: Gates | None,
    now: datetime | None,
) -> ReviewResult:
    """The disagreement counts against its policy's gate: below the live QA agreement the
    gate asks for, the policy drops to shadow (audited)."""
    from tools.gates import enforce_live_qa, load_gates

    dropped = None
    if sample.policy_id:
        dropped = enforce_live_qa(store, gates or load_gates(), sample.policy_id, now=now)
    note = (
        f" The {sample.policy_id} gate fell back to shadow: live QA agreement is below its "
        "threshold."
        if dropped
        else ""
    )
    if isinstance(opened, str) or opened is None:
        return ReviewResult(
            accepted=True,
            sample=sample,
            reason=f"Recorded; {opened or 'nothing to reverse'}.{note}",
            gate_dropped=dropped is not None,
        )
    proposal = opened.proposal
    need = proposal.required_approvals
    follow_up = (
        f"reversal proposal {proposal.id}: {len(proposal.actions)} action(s) of "
        f"{proposal.reverses} to reverse, {need} approval{'s' if need != 1 else ''} needed"
    )
    return ReviewResult(
        accepted=True,
        sample=sample,
        reason=f"Recorded; opened {follow_up} (`warden qa reversals`).{note}",
        follow_up=follow_up,
        reversal_proposal_id=proposal.id,
        gate_dropped=dropped is not None,
    )


class Score(BaseModel):
    key: str
    reviewed: int
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


class QualityScores(BaseModel):
    """Agreement of QA reviews with the original decisions, by several cuts."""

    sampled: int
    reviewed: int
    by_policy: list[Score]
    by_decider: list[Score] = Field(description="the specialist whose decision was reviewed")
    by_reviewer: list[Score]
    by_vendor_team: list[Score]
    by_automation: list[Score] = Field(
        default_factory=list, description="bulk, auto-proposal or specialist"
    )

    @property
    def overall(self) -> float | None:
        agreed = sum(s.agreed for s in self.by_policy)
        return agreed / self.reviewed if self.reviewed else None


def quality_scores(
    store: Store, *, since: datetime | None = None, until: datetime | None = None
) -> QualityScores:
    """Per policy, decider, reviewer and vendor team: reviewed samples and the share agreed."""
    with store.session() as s:
        query = select(QASampleRow)
        if since is not None:
            query = query.where(QASampleRow.sampled_at >= since)
        if until is not None:
            query = query.where(QASampleRow.sampled_at < until)
        rows = [_sample(r) for r in s.scalars(query)]

    def cut(key_of: str) -> list[Score]:
        reviewed: Counter[str] = Counter()
        agreed: Counter[str] = Counter()
        for r in rows:
            if r.agree is None:
                continue
            key = getattr(r, key_of) or "(none)"
            reviewed[key] += 1
            agreed[key] += int(r.agree)
        return [Score(key=k, reviewed=reviewed[k], agreed=agreed[k]) for k in sorted(reviewed)]

    return QualityScores(
        sampled=len(rows),
        reviewed=sum(1 for r in rows if r.agree is not None),
        by_policy=cut("policy_id"),
        by_decider=cut("decided_by"),
        by_reviewer=cut("reviewer_id"),
        by_vendor_team=cut("vendor_team"),
        by_automation=cut("automation"),
    )


def decided_items(store: Store, *, since: datetime) -> list[Decided]:
    """Decided cases and executed actions since `since`, ready for `sample_many`.

    A case counts as decided when a proposal on it was approved or rejected or an escalation on it
    was resolved; an executed action is one applied row of the fanout ledger.
    """
    from tools.fanout_tables import APPLIED, LedgerRow
    from tools.tables import CaseRow, EscalationRow, ProposalRow

    items: list[Decided] = []
    with store.session() as s:
        teams = dict(s.execute(select(CaseRow.id, CaseRow.vendor_team)).all())
        proposals = {
            p.id: p
            for p in s.scalars(
                select(ProposalRow).where(
                    ProposalRow.decided_at >= since,
                    ProposalRow.status.in_(("approved", "rejected", "executing", "executed")),
                    ProposalRow.origin != "qa",  # a reversal reviews a decision; not sampled
                )
            )
        }
        for p in proposals.values():
            if p.case_id and p.decided_at is not None:
                verdict = "rejected" if p.status == "rejected" else "approved"
                items.append(
                    Decided(
                        subject_type="case",
                        subject_id=p.case_id,
                        policy_id=p.policy_id,
                        decision=f"{verdict}: {p.action} under {', '.join(p.section_ids)}",
                        decided_by=p.decided_by,
                        decided_at=_aware(p.decided_at),
                        vendor_team=teams.get(p.case_id),
                        automation="auto-proposal",
                    )
                )
        for e in s.scalars(
            select(EscalationRow).where(
                EscalationRow.resolved_at >= since, EscalationRow.case_id.is_not(None)
            )
        ):
            if e.case_id and e.resolved_at is not None:
                items.append(
                    Decided(
                        subject_type="case",
                        subject_id=e.case_id,
                        policy_id=e.policy_id,
                        decision=f"escalation resolved: {e.resolution or 'no resolution text'}",
                        decided_by=e.owner_id,
                        decided_at=_aware(e.resolved_at),
                        vendor_team=teams.get(e.case_id),
                        automation="specialist",
                    )
                )
        for row in s.scalars(
            select(LedgerRow).where(LedgerRow.status == APPLIED, LedgerRow.applied_at >= since)
        ):
            proposal = proposals.get(row.proposal_id) or s.get(ProposalRow, row.proposal_id)
            if row.applied_at is None or (proposal is not None and proposal.origin == "qa"):
                continue
            items.append(
                Decided(
                    subject_type="action",
                    subject_id=row.idempotency_key,
                    policy_id=proposal.policy_id if proposal else None,
                    decision=f"{row.action} {row.target_type} {row.target_id} under "
                    f"{row.section_id}",
                    decided_by=proposal.decided_by if proposal else None,
                    decided_at=_aware(row.applied_at),
                    vendor_team=teams.get(proposal.case_id or "") if proposal else None,
                    automation="bulk" if proposal and proposal.cluster_id else "auto-proposal",
                )
            )
    return items


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
