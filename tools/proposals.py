"""Auto-action proposals: creation (targets only from the case or cluster), blast radius, and
decisions with exactly one outcome per proposal, decided by the store.

Every decision runs in one transaction that first locks the proposal row (`SELECT ... FOR
UPDATE` on Postgres; SQLite transactions of the store take the write lock at BEGIN), and every
status change is a conditional `UPDATE ... WHERE status = :seen AND version = :seen`, so double
clicks, approve and reject at the same moment, or two app replicas cannot both win. One approver
counts once (unique `(proposal_id, approver_id)`). Refusals are returned, never silent, and audited.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge.vocabulary import ACCOUNT_ACTIONS, ActionType
from tools import strikes
from tools.audit import EventSpec, append_many
from tools.models import BlastRadius, PlannedAction, Proposal, ProposalStatus, action_list_hash
from tools.store import Store, load_proposal, proposal_from_row, utc, utcnow
from tools.tables import ApprovalRow, CaseItemRow, ClusterItemRow, ContentRow, ProposalRow
from warden.errors import ApprovalError, InputError, NotFoundError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

SAMPLE_SIZE = 5
# A QA reversal stays open for a week for the policy's approvers, not a detector's few hours.
REVERSAL_TTL = timedelta(days=7)
EXCERPT_CHARS = 160


class ProposalRefused(InputError):
    """A proposal could not be created as asked (target, action or section not allowed)."""


class Created(NamedTuple):
    proposal: Proposal
    blast_radius: BlastRadius


class DecisionResult(BaseModel):
    """The outcome of one approve or reject click, as the store decided it."""

    accepted: bool
    proposal_id: str
    status: ProposalStatus
    reason: str
    approvals: int = 0
    required_approvals: int = 1


def _members(session: Session, *, case_id: str | None, cluster_id: str | None) -> dict[str, str]:
    """content id -> author id for everything the case or the cluster contains."""
    if (case_id is None) == (cluster_id is None):
        raise ProposalRefused(
            "A proposal needs exactly one source: a case id or a detector cluster id."
        )
    if case_id is not None:
        link = select(CaseItemRow.content_id).where(CaseItemRow.case_id == case_id)
        what = f"case {case_id!r}"
    else:
        link = select(ClusterItemRow.content_id).where(ClusterItemRow.cluster_id == cluster_id)
        what = f"cluster {cluster_id!r}"
    rows = session.execute(
        select(ContentRow.id, ContentRow.author_id).where(ContentRow.id.in_(link))
    ).all()
    if not rows:
        raise NotFoundError(f"No {what} in the store (or it holds no content).")
    return {content_id: author_id for content_id, author_id in rows}


def plan_actions(
    members: dict[str, str],
    *,
    action: ActionType,
    section_id: str,
    targets: list[str] | None,
    source: str,
) -> list[PlannedAction]:
    """Turn requested targets into planned actions; refuse any target outside the source.

    Content actions take content ids; account actions (strike, suspend) take author ids or
    content ids (meaning their authors). `targets=None` means everything in the source.
    """
    authors = set(members.values())
    account_action = action in ACCOUNT_ACTIONS
    if targets is None:
        targets = sorted(authors) if account_action else sorted(members)
    if not targets:
        raise ProposalRefused("A proposal needs at least one target.")
    outside = [t for t in targets if t not in members and t not in authors]
    if outside:
        shown = ", ".join(repr(t) for t in outside[:5])
        raise ProposalRefused(
            f"{len(outside)} target(s) are not part of {source}: {shown}. A proposal may only "
            "act on the case's items and authors or the cluster's content."
        )
    planned: dict[str, PlannedAction] = {}
    for target in targets:
        if account_action:
            account = members.get(target, target)
            pa = PlannedAction(
                target_type="account", target_id=account, action=action, section_id=section_id
            )
        else:
            if target not in members:
                raise ProposalRefused(
                    f"{target!r} is an account; {action.value} applies to content items."
                )
            pa = PlannedAction(
                target_type="content", target_id=target, action=action, section_id=section_id
            )
        planned[pa.key] = pa
    return [planned[k] for k in sorted(planned)]


def _check_sections(
    catalogue: Catalogue, policy_id: str, section_ids: list[str], action: ActionType
) -> None:
    if not section_ids:
        raise ProposalRefused("A proposal must cite at least one policy section.")
    catalogue.policy(policy_id)
    for sid in section_ids:
        section = catalogue.section(sid)
        if section.policy_id != policy_id:
            raise ProposalRefused(f"Section {sid} belongs to {section.policy_id}, not {policy_id}.")
        if not catalogue.is_allowed(sid, action):
            allowed = ", ".join(a.value for a in catalogue.allowed_actions(sid)) or "none"
            raise ProposalRefused(
                f"{action.value} is not allowed by {sid} ({section.title}); allowed: {allowed}."
            )


def blast_radius(
    store: Store,
    catalogue: Catalogue,
    actions: list[PlannedAction],
    *,
    now: datetime | None = None,
    sample_size: int = SAMPLE_SIZE,
    session: Session | None = None,
) -> BlastRadius:
    """Everything an approver should see first: counts, a sample with excerpts, strike impact."""
    step = max(1, len(actions) // max(1, sample_size))
    sample = actions[::step][:sample_size]
    texts: dict[str, str] = {}
    with store.use(session) as s:
        content_ids = [a.target_id for a in sample if a.target_type == "content"]
        for row in s.scalars(select(ContentRow).where(ContentRow.id.in_(content_ids))):
            body = row.text or row.media_description or ""
            texts[row.id] = body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else "")
        effects = strikes.preview(store, catalogue, actions, now, session=s)
    return BlastRadius(
        total_actions=len(actions),
        content_count=len({a.target_id for a in actions if a.target_type == "content"}),
        account_count=len({a.target_id for a in actions if a.target_type == "account"}),
        sample=sample,
        sample_texts=texts,
        strike_effects=effects,
        section_ids=sorted({a.section_id for a in actions}),
    )


def create_proposal(
    store: Store,
    catalogue: Catalogue,
    *,
    policy_id: str,
    section_ids: list[str],
    action: ActionType,
    targets: list[str] | None,
    requester_id: str,
    case_id: str | None = None,
    cluster_id: str | None = None,
    evidence: list[str] | None = None,
    ttl: timedelta = timedelta(hours=4),
    now: datetime | None = None,
    source: str = "warden",
    model: str | None = None,
    prompt_id: str | None = None,
) -> Created:
    """Create a pending proposal and its blast radius (nothing is enforced until approved)."""
    now = utc(now or utcnow())
    action = ActionType(action)
    _check_sections(catalogue, policy_id, section_ids, action)
    policy = catalogue.policy(policy_id)
    with store.session() as s:
        members = _members(s, case_id=case_id, cluster_id=cluster_id)
        origin = f"case {case_id}" if case_id else f"cluster {cluster_id}"
        actions = plan_actions(
            members, action=action, section_id=section_ids[0], targets=targets, source=origin
        )
        row = _insert_pending(
            s,
            policy_id=policy_id,
            policy_version=policy.version,
            section_ids=list(section_ids),
            action=action,
            actions=actions,
            evidence=list(evidence or []),
            requester_id=requester_id,
            required_approvals=policy.required_approvals,
            now=now,
            ttl=ttl,
            case_id=case_id,
            cluster_id=cluster_id,
            source=source,
            model=model,
            prompt_id=prompt_id,
        )
        proposal = proposal_from_row(s, row)
        radius = blast_radius(store, catalogue, actions, now=now, session=s)
    return Created(proposal, radius)


def _insert_pending(
    s: Session,
    *,
    policy_id: str,
    policy_version: str,
    section_ids: list[str],
    action: ActionType,
    actions: list[PlannedAction],
    evidence: list[str],
    requester_id: str,
    required_approvals: int,
    now: datetime,
    ttl: timedelta,
    case_id: str | None,
    cluster_id: str | None,
    source: str,
    origin: str = "automated",
    reverses: str | None = None,
    model: str | None = None,
    prompt_id: str | None = None,
) -> ProposalRow:
    """Store a pending proposal and its `proposal.created` audit event."""
    digest = action_list_hash(actions)
    row = ProposalRow(
        id=f"prop_{uuid.uuid4().hex[:12]}",
        policy_id=policy_id,
        policy_version=policy_version,
        section_ids=section_ids,
        action=action.value,
        actions=[a.model_dump(mode="json") for a in actions],
        evidence=evidence,
        requester_id=requester_id,
        required_approvals=required_approvals,
        status=ProposalStatus.PENDING.value,
        created_at=now,
        expires_at=now + ttl,
        action_hash=digest,
        case_id=case_id,
        cluster_id=cluster_id,
        version=0,
        origin=origin,
        reverses=reverses,
    )
    s.add(row)
    s.flush()
    details: dict[str, Any] = {
        "action": action.value,
        "targets": len(actions),
        "case_id": case_id,
        "cluster_id": cluster_id,
        "required_approvals": required_approvals,
        "expires_at": (now + ttl).isoformat(),
    }
    if reverses is not None:
        details |= {"origin": origin, "reverses": reverses}
    append_many(
        s,
        [
            EventSpec(
                actor=requester_id,
                verb="proposal.created",
                subject=f"proposal:{row.id}",
                source=source,
                outcome="pending",
                policy_id=policy_id,
                section_id=section_ids[0],
                policy_version=policy_version,
                proposal_hash=digest,
                model=model,
                prompt_id=prompt_id,
                details=details,
                at=now,
            )
        ],
    )
    return row


def create_reversal(
    store: Store,
    catalogue: Catalogue,
    *,
    reverses: str,
    actions: list[PlannedAction],
    requester_id: str,
    reason: str,
    ttl: timedelta = REVERSAL_TTL,
    now: datetime | None = None,
    source: str = "qa",
    session: Session | None = None,
) -> Created:
    """Propose reversing `actions`, applied by proposal `reverses` (origin `qa`).

    Approved like any proposal (the catalogue's approvers of the policy, never the requester)
    and executed by the fanout, which sends the reversals and undoes their strikes and
    restrictions exactly once.
    """
    now = utc(now or utcnow())
    if not actions:
        raise ProposalRefused("A reversal needs at least one applied action to reverse.")
    with store.use(session) as s:
        original = s.get(ProposalRow, reverses)
        if original is None:
            raise NotFoundError(f"No proposal {reverses!r} to reverse.")
        policy = catalogue.policy(original.policy_id)
        planned = sorted(actions, key=lambda a: a.key)
        row = _insert_pending(
            s,
            policy_id=original.policy_id,
            policy_version=policy.version,
            section_ids=sorted({a.section_id for a in planned}),
            action=ActionType(original.action),
            actions=planned,
            evidence=[reason],
            requester_id=requester_id,
            required_approvals=policy.required_approvals,
            now=now,
            ttl=ttl,
            case_id=original.case_id,
            cluster_id=original.cluster_id,
            source=source,
            origin="qa",
            reverses=reverses,
        )
        proposal = proposal_from_row(s, row)
        radius = BlastRadius(
            total_actions=len(planned),
            content_count=len({a.target_id for a in planned if a.target_type == "content"}),
            account_count=len({a.target_id for a in planned if a.target_type == "account"}),
            sample=planned[:SAMPLE_SIZE],
            section_ids=sorted({a.section_id for a in planned}),
        )
    return Created(proposal, radius)


class _Refused(Exception):
    def __init__(self, reason: str, *, expire: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expire = expire


def _lock(session: Session, proposal_id: str) -> ProposalRow:
    row = session.scalars(
        select(ProposalRow).where(ProposalRow.id == proposal_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"No proposal {proposal_id!r}.")
    return row


def database_now(session: Session) -> datetime:
    """The database's clock: one clock for every replica (a replica's own may be minutes off)."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(text("SELECT statement_timestamp()"))
    else:
        stamp = session.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        value = datetime.fromisoformat(str(stamp))
    assert isinstance(value, datetime)
    return utc(value)


def _open_for_decision(row: ProposalRow, now: datetime) -> None:
    if row.status == ProposalStatus.PENDING and utc(row.expires_at) <= now:
        raise _Refused(
            f"this proposal expired at {utc(row.expires_at):%Y-%m-%d %H:%M} UTC; ask for a new one",
            expire=True,
        )
    if row.status != ProposalStatus.PENDING:
        raise _Refused(f"this proposal is already {row.status}; no further decisions")


def _check_hash(row: ProposalRow, action_hash: str | None) -> None:
    if action_hash is not None and action_hash != row.action_hash:
        raise _Refused(
            "the action list changed since you saw it (hash mismatch); reload the proposal "
            "and decide on what it says now"
        )
    stored = action_list_hash([PlannedAction.model_validate(a) for a in row.actions])
    if stored != row.action_hash:
        raise _Refused("the stored action list does not match its hash; it was altered")


def _counted(session: Session, row: ProposalRow, approvers: set[str]) -> tuple[int, list[str]]:
    """Approvals that count now: of the current action list, by someone who is an approver
    at this moment (re-checked at every decision), never the requester of an automated
    proposal (a specialist's own decision counts its decider as the first reviewer). Also who
    no longer counts."""
    given = session.scalars(
        select(ApprovalRow.approver_id).where(
            ApprovalRow.proposal_id == row.id, ApprovalRow.action_hash == row.action_hash
        )
    ).all()
    own_decision = row.origin == "decision"
    valid = [a for a in given if a in approvers and (own_decision or a != row.requester_id)]
    return len(valid), sorted(set(given) - set(valid))


def _count(session: Session, proposal_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ApprovalRow)
            .where(ApprovalRow.proposal_id == proposal_id)
        )
        or 0
    )


def _transition(session: Session, row: ProposalRow, status: ProposalStatus, **values: Any) -> None:
    """Move the proposal on, only if nobody moved it since we read it."""
    result = session.execute(
        update(ProposalRow)
        .where(
            ProposalRow.id == row.id,
            ProposalRow.status == row.status,
            ProposalRow.version == row.version,
        )
        .values(status=status.value, version=row.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _Refused("another decision on this proposal was recorded first")


def _event(
    row: ProposalRow, actor: str, verb: str, outcome: str, now: datetime, **details: Any
) -> EventSpec:
    return EventSpec(
        actor=actor,
        verb=verb,
        subject=f"proposal:{row.id}",
        source=str(details.pop("source", "slack")),
        outcome=outcome,
        policy_id=row.policy_id,
        section_id=row.section_ids[0] if row.section_ids else None,
        policy_version=row.policy_version,
        proposal_hash=row.action_hash,
        details=details,
        at=now,
    )


def _refusal(
    store: Store,
    proposal_id: str,
    actor: str,
    verb: str,
    refused: _Refused,
    now: datetime,
    source: str,
) -> DecisionResult:
    """Record a refusal (and an expiry it revealed) in its own transaction; report it."""
    with store.session() as s:
        row = _lock(s, proposal_id)
        events = []
        if refused.expire and row.status == ProposalStatus.PENDING:
            # Someone else may have moved it meanwhile; then we report what is stored.
            with contextlib.suppress(_Refused):
                _transition(s, row, ProposalStatus.EXPIRED)
                events.append(
                    _event(row, "warden", "proposal.expired", "expired", now, source="system")
                )
        events.append(
            _event(row, actor, verb, "refused", now, reason=refused.reason, source=source)
        )
        append_many(s, events)
        s.flush()
        s.refresh(row)
        return DecisionResult(
            accepted=False,
            proposal_id=proposal_id,
            status=ProposalStatus(row.status),
            reason=refused.reason,
            approvals=_count(s, proposal_id),
            required_approvals=row.required_approvals,
        )


def _audit_unknown(
    store: Store, proposal_id: str, actor: str, verb: str, now: datetime, source: str
) -> None:
    """A decision on a proposal that does not exist is a refusal too (forged or stale id)."""
    with store.session() as s:
        append_many(
            s,
            [
                EventSpec(
                    actor=actor,
                    verb=verb,
                    subject=f"proposal:{proposal_id[:200]}",
                    source=source,
                    outcome="refused",
                    details={"reason": "no such proposal"},
                    at=now,
                )
            ],
        )


def approve(
    store: Store,
    proposal_id: str,
    approver_id: str,
    action_hash: str,
    *,
    approvers: set[str],
    now: datetime | None = None,
    source: str = "slack",
) -> DecisionResult:
    """Record one approval; the proposal becomes approved when enough distinct approvers agree.

    Without `now` (every live caller) the database's clock decides expiry: one clock for every
    replica, however far a replica's own is off. `now` is for replays and tests.
    """
    clock = utc(now) if now is not None else None
    now = clock or utcnow()
    try:
        with store.session() as s:
            row = _lock(s, proposal_id)
            if clock is None:
                now = database_now(s)
            _open_for_decision(row, now)
            if approver_id not in approvers:
                raise _Refused(f"<@{approver_id}> is not an authorised approver")
            if approver_id == row.requester_id:
                raise _Refused("the requester cannot approve their own proposal")
            _check_hash(row, action_hash)
            already = s.scalar(
                select(ApprovalRow.id).where(
                    ApprovalRow.proposal_id == row.id, ApprovalRow.approver_id == approver_id
                )
            )
            if already is not None:
                raise _Refused("you already approved this proposal; one approver counts once")
            s.add(
                ApprovalRow(
                    proposal_id=row.id,
                    approver_id=approver_id,
                    decided_at=now,
                    action_hash=action_hash,
                )
            )
            s.flush()
            count, stale = _counted(s, row, approvers)
            done = count >= row.required_approvals
            status = ProposalStatus.APPROVED if done else ProposalStatus.PENDING
            extra: dict[str, Any] = {"decided_by": approver_id, "decided_at": now} if done else {}
            _transition(s, row, status, **extra)
            append_many(
                s,
                [
                    _event(
                        row,
                        approver_id,
                        "proposal.approve",
                        "approved" if done else "approval_recorded",
                        now,
                        approvals=count,
                        required=row.required_approvals,
                        no_longer_approvers=stale,
                        source=source,
                    )
                ],
            )
            reason = (
                "approved"
                if done
                else f"approval recorded ({count} of {row.required_approvals}); "
                "a second approver is needed"
                + (
                    f" ({len(stale)} earlier approval(s) no longer count: not an approver now)"
                    if stale
                    else ""
                )
            )
            return DecisionResult(
                accepted=True,
                proposal_id=row.id,
                status=status,
                reason=reason,
                approvals=count,
                required_approvals=row.required_approvals,
            )
    except _Refused as refused:
        return _refusal(store, proposal_id, approver_id, "proposal.approve", refused, now, source)
    except IntegrityError:
        # The unique (proposal, approver) constraint caught a concurrent double click.
        duplicate = _Refused("you already approved this proposal; one approver counts once")
        return _refusal(store, proposal_id, approver_id, "proposal.approve", duplicate, now, source)
    except NotFoundError:
        _audit_unknown(store, proposal_id, approver_id, "proposal.approve", now, source)
        raise


def reject(
    store: Store,
    proposal_id: str,
    approver_id: str,
    action_hash: str | None = None,
    *,
    approvers: set[str],
    reason: str = "",
    now: datetime | None = None,
    source: str = "slack",
) -> DecisionResult:
    """Reject a pending proposal (an authorised approver, or the requester withdrawing it);
    `now` as for `approve`."""
    clock = utc(now) if now is not None else None
    now = clock or utcnow()
    try:
        with store.session() as s:
            row = _lock(s, proposal_id)
            if clock is None:
                now = database_now(s)
            _open_for_decision(row, now)
            if approver_id not in approvers and approver_id != row.requester_id:
                raise _Refused(f"<@{approver_id}> is not an authorised approver")
            _check_hash(row, action_hash)
            _transition(
                s,
                row,
                ProposalStatus.REJECTED,
                decided_by=approver_id,
                decided_at=now,
                reject_reason=reason or None,
            )
            append_many(
                s,
                [
                    _event(
                        row,
                        approver_id,
                        "proposal.reject",
                        "rejected",
                        now,
                        reason=reason,
                        source=source,
                    )
                ],
            )
            return DecisionResult(
                accepted=True,
                proposal_id=row.id,
                status=ProposalStatus.REJECTED,
                reason="rejected" + (f": {reason}" if reason else ""),
                approvals=_count(s, row.id),
                required_approvals=row.required_approvals,
            )
    except _Refused as refused:
        return _refusal(store, proposal_id, approver_id, "proposal.reject", refused, now, source)
    except NotFoundError:
        _audit_unknown(store, proposal_id, approver_id, "proposal.reject", now, source)
        raise


def expire_due(store: Store, now: datetime | None = None) -> list[str]:
    """Expire every pending proposal past its deadline; return their ids."""
    now = utc(now or utcnow())
    expired: list[str] = []
    with store.session() as s:
        due = s.scalars(
            select(ProposalRow)
            .where(ProposalRow.status == ProposalStatus.PENDING, ProposalRow.expires_at <= now)
            .with_for_update()
        ).all()
        for row in due:
            try:
                _transition(s, row, ProposalStatus.EXPIRED)
            except _Refused:
                continue
            expired.append(row.id)
        append_many(
            s,
            [
                _event(row, "warden", "proposal.expired", "expired", now, source="system")
                for row in due
                if row.id in expired
            ],
        )
    return expired


def _approved_integrity(session: Session, row: ProposalRow) -> None:
    """Refuse to execute what was not approved exactly as it now stands."""
    actions = [PlannedAction.model_validate(a) for a in row.actions]
    if action_list_hash(actions) != row.action_hash:
        raise ApprovalError(
            f"Proposal {row.id}: its action list no longer matches the approved hash; "
            "refusing to execute. Create a new proposal."
        )
    hashes = session.scalars(
        select(ApprovalRow.action_hash).where(ApprovalRow.proposal_id == row.id)
    ).all()
    valid = [h for h in hashes if h == row.action_hash]
    if len(valid) < row.required_approvals:
        raise ApprovalError(
            f"Proposal {row.id}: {len(valid)} approval(s) of the current action list, "
            f"{row.required_approvals} needed; refusing to execute."
        )


def mark_executing(
    store: Store, proposal_id: str, *, worker_id: str = "fanout", session: Session | None = None
) -> Proposal:
    """Claim an approved proposal for execution (a resumed run finds it executing: allowed)."""
    now = utcnow()
    with store.use(session) as s:
        row = _lock(s, proposal_id)
        if row.status not in (ProposalStatus.APPROVED, ProposalStatus.EXECUTING):
            raise ApprovalError(
                f"Proposal {proposal_id} is {row.status}; only an approved one can be executed."
            )
        _approved_integrity(s, row)
        if row.status == ProposalStatus.APPROVED:
            try:
                _transition(s, row, ProposalStatus.EXECUTING)
            except _Refused as exc:
                raise ApprovalError(f"Proposal {proposal_id}: {exc.reason}") from None
            append_many(
                s,
                [_event(row, worker_id, "proposal.executing", "executing", now, source="fanout")],
            )
        s.flush()
        s.refresh(row)
        return proposal_from_row(s, row)


def _finish(
    store: Store,
    proposal_id: str,
    status: ProposalStatus,
    *,
    allowed: tuple[ProposalStatus, ...],
    worker_id: str,
    details: dict[str, Any],
    session: Session | None,
) -> Proposal:
    now = utcnow()
    with store.use(session) as s:
        row = _lock(s, proposal_id)
        if row.status == status:
            return proposal_from_row(s, row)  # a resumed worker finishing again: no-op
        if row.status not in allowed:
            raise ApprovalError(
                f"Proposal {proposal_id} is {row.status}; cannot mark it {status.value}."
            )
        try:
            _transition(s, row, status)
        except _Refused as exc:
            raise ApprovalError(f"Proposal {proposal_id}: {exc.reason}") from None
        append_many(
            s,
            [
                _event(
                    row,
                    worker_id,
                    f"proposal.{status.value}",
                    status.value,
                    now,
                    source="fanout",
                    **details,
                )
            ],
        )
        s.flush()
        s.refresh(row)
        return proposal_from_row(s, row)


def mark_executed(
    store: Store,
    proposal_id: str,
    *,
    worker_id: str = "fanout",
    summary: dict[str, Any] | None = None,
    session: Session | None = None,
) -> Proposal:
    return _finish(
        store,
        proposal_id,
        ProposalStatus.EXECUTED,
        allowed=(ProposalStatus.EXECUTING,),
        worker_id=worker_id,
        details=dict(summary or {}),
        session=session,
    )


def mark_failed(
    store: Store,
    proposal_id: str,
    *,
    reason: str,
    worker_id: str = "fanout",
    session: Session | None = None,
) -> Proposal:
    return _finish(
        store,
        proposal_id,
        ProposalStatus.FAILED,
        allowed=(ProposalStatus.APPROVED, ProposalStatus.EXECUTING),
        worker_id=worker_id,
        details={"reason": reason},
        session=session,
    )


def get_proposal(store: Store, proposal_id: str) -> Proposal:
    return store.get_proposal(proposal_id)


def list_proposals(store: Store, *, status: ProposalStatus | None = None) -> list[Proposal]:
    with store.session() as s:
        query = select(ProposalRow).order_by(ProposalRow.created_at.desc())
        if status is not None:
            query = query.where(ProposalRow.status == status.value)
        return [proposal_from_row(s, r) for r in s.scalars(query)]


__all__ = [
    "Created",
    "DecisionResult",
    "ProposalRefused",
    "approve",
    "blast_radius",
    "create_proposal",
    "create_reversal",
    "expire_due",
    "get_proposal",
    "list_proposals",
    "load_proposal",
    "mark_executed",
    "mark_executing",
    "mark_failed",
    "reject",
]
