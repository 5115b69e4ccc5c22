"""Exactly-once fanout of an approved proposal: a durable ledger, batches, resumable, multi-worker.

Every planned action gets a ledger row with an idempotency key per (proposal, target, action).
A row leaves `pending` in the same transaction that writes its strike, statement of reasons and
audit event, so a crash (kill -9 included) either keeps all of that or none of it:

- with the local platform, the platform write joins that transaction too, so a crash can never
  leave an action applied but unrecorded;
- with a remote enforcement API, the call happens before the transaction commits; a crash in
  between means the resumed run sends the same idempotency key again and the platform answers
  with the first receipt instead of applying twice.

Workers share the ledger: on Postgres a batch is claimed with `SELECT ... FOR UPDATE SKIP
LOCKED` and stays locked until its transaction ends (a killed worker's locks end with its
connection); SQLite transactions of the store take the database write lock, so workers take
turns. The last worker to find no pending row left marks the proposal executed.

A reversal proposal (origin `qa`, `reverses` another proposal) runs through the same ledger: its
rows carry the reversal keys of the original actions, the platform's reversal is called instead
(never inside the store's transaction: a remote-style call whose keys make a resend a replay),
and a settled row overturns the original decision's strikes and lifts its restrictions for that
account (tools.reversal, shared with appeal overturns) in the row's own transaction.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from knowledge.catalogue import RestrictionSpec
from knowledge.vocabulary import ActionType, RestrictionType
from tools import proposals, reasons, restrictions, reversal, strikes
from tools.audit import EventSpec, append_batch
from tools.cases import ensure_account
from tools.fanout_tables import (
    APPLIED,
    FAILED,
    PENDING,
    FanoutRunRow,
    LedgerRow,
    conflict_insert,
)
from tools.gateway import (
    BatchOutcome,
    EnforcementGateway,
    GatewayItem,
    GatewayUnavailable,
    TransactionalGateway,
    reversal_key,
)
from tools.models import Case, FanoutProgress, PlannedAction, Proposal, ProposalStatus
from tools.proposals import SAMPLE_SIZE
from tools.store import Store
from warden.errors import ApprovalError, GatewayError, InputError
from warden.metrics import FANOUT_ACTIONS
from warden.redact import redact

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

ProgressCallback = Callable[[FanoutProgress], None]
MAX_KEY_LENGTH = 255  # the ledger's and the platform's key columns


class FanoutResult(BaseModel):
    """Where a proposal's fanout stands after one `execute` call returns."""

    proposal_id: str
    status: ProposalStatus
    total: int
    applied: int
    failed: int
    pending: int
    applied_by_this_run: int
    replayed: int = 0  # the platform already had these keys (an interrupted run had landed them)
    batches: int = 0
    worker_id: str
    suspended_accounts: list[str] = []


class FanoutStatus(BaseModel):
    """The ledger's view of one proposal (for `warden fanout status`)."""

    proposal_id: str
    proposal_status: ProposalStatus
    total: int
    applied: int
    failed: int
    pending: int
    started_at: datetime | None
    finished_at: datetime | None
    workers: dict[str, int]
    errors: list[str]


@dataclass(frozen=True)
class _Claimed:
    id: int
    key: str
    attempts: int
    action: PlannedAction


@dataclass(frozen=True)
class _Run:
    """Everything one worker's batches share (built once per `execute`)."""

    store: Store
    gateway: EnforcementGateway
    catalogue: Catalogue
    proposal: Proposal
    batch_size: int
    worker: str
    detector: str | None
    case: Case | None
    # Ledger rows the platform answered "retry later" for in this run: they stay pending and
    # this run does not claim them again (a later run does).
    deferred: set[int] = field(default_factory=set)


@dataclass
class _BatchStats:
    applied: int = 0
    replayed: int = 0
    failed: int = 0
    suspended: tuple[str, ...] = ()


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def idempotency_key(proposal_id: str, action: PlannedAction) -> str:
    """The key that makes applying this action of this proposal a second time a no-op.

    Readable (`proposal:target_type:target_id:action`) when it is short printable ASCII, as
    an HTTP header and the ledger column need; otherwise a stable digest of the same parts.
    """
    key = f"{proposal_id}:{action.key}"
    if len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable():
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{proposal_id[:100]}:sha256:{digest}"


def ledger_key(proposal: Proposal, action: PlannedAction) -> str:
    """The ledger's key of one action: its idempotency key, or for a reversal proposal the
    reversal key of the original action (the key an appeal overturn would send too)."""
    if proposal.reverses is not None:
        return reversal_key(idempotency_key(proposal.reverses, action))
    return idempotency_key(proposal.id, action)


def _now() -> datetime:
    return datetime.now(UTC)


def execute(
    store: Store,
    gateway: EnforcementGateway,
    proposal_id: str,
    *,
    catalogue: Catalogue | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = 100,
    worker_id: str | None = None,
) -> FanoutResult:
    """Apply every action of an approved proposal exactly once; safe to run again after a crash.

    Raises `ApprovalError` for a proposal that is not approved (pending, rejected, expired,
    already executed) or whose actions no longer match the approved hash, and `GatewayError`
    when the platform stays unavailable (nothing is lost: run it again to resume).
    """
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}.")
    if catalogue is None:
        from knowledge.catalogue import load_catalogue

        catalogue = load_catalogue()
    worker = worker_id or default_worker_id()
    # Status, action hash and approvals are checked under the proposal's row lock.
    proposal = proposals.mark_executing(store, proposal_id, worker_id=worker)
    total = _prepare_ledger(store, proposal)
    # The case a proposal came from says how its content was found (statements of reasons).
    case = store.get_case(proposal.case_id) if proposal.case_id else None
    detector = store.get_cluster(proposal.cluster_id).detector if proposal.cluster_id else None
    run = _Run(store, gateway, catalogue, proposal, batch_size, worker, detector, case)
    applied_now = replayed = batches = 0
    suspended: list[str] = []
    while True:
        stats = _run_batch(run)
        if stats is None:
            break
        batches += 1
        applied_now += stats.applied
        # Counted after the batch's transaction committed: a rolled-back batch counts nothing.
        FANOUT_ACTIONS.labels(outcome="applied").inc(stats.applied)
        FANOUT_ACTIONS.labels(outcome="failed").inc(stats.failed)
        replayed += stats.replayed
        suspended.extend(stats.suspended)
        if progress is not None:
            applied, failed, _pending = _counts(store, proposal_id)
            progress(
                FanoutProgress(proposal_id=proposal_id, total=total, applied=applied, failed=failed)
            )
    status = _finish_if_done(store, proposal_id, worker)
    applied, failed, pending = _counts(store, proposal_id)
    if run.deferred and pending:
        raise GatewayUnavailable(
            f"Proposal {proposal_id}: {applied} applied, {failed} failed; the platform asked "
            f"to retry {len(run.deferred)} action(s) later, and they stay pending. Nothing is "
            f"lost: run `warden fanout run {proposal_id}` again to resume."
        )
    if progress is not None and pending == 0:
        progress(
            FanoutProgress(
                proposal_id=proposal_id, total=total, applied=applied, failed=failed, done=True
            )
        )
    return FanoutResult(
        proposal_id=proposal_id,
        status=status,
        total=total,
        applied=applied,
        failed=failed,
        pending=pending,
        applied_by_this_run=applied_now,
        replayed=replayed,
        batches=batches,
        worker_id=worker,
        suspended_accounts=sorted(set(suspended)),
    )


def _prepare_ledger(store: Store, proposal: Proposal) -> int:
    """Write the ledger once (idempotent, race-safe); refuse a ledger of another action list."""
    keys = [ledger_key(proposal, a) for a in proposal.actions]
    if len(set(keys)) != len(keys):
        raise ApprovalError(
            f"Proposal {proposal.id} lists the same action on the same target twice; "
            "it cannot be executed exactly once. Create a corrected proposal."
        )
    with store.session() as s:
        dialect = s.get_bind().dialect.name
        s.execute(
            conflict_insert(dialect, FanoutRunRow.__table__)  # type: ignore[arg-type]
            .values(
                proposal_id=proposal.id,
                action_hash=proposal.action_hash,
                total=len(keys),
                started_at=_now(),
            )
            .on_conflict_do_nothing(index_elements=["proposal_id"])
        )
        run = s.get(FanoutRunRow, proposal.id)
        assert run is not None
        if run.action_hash != proposal.action_hash:
            raise ApprovalError(
                f"Proposal {proposal.id} was started with a different action list "
                f"(hash {run.action_hash[:12]}…, now {proposal.action_hash[:12]}…); refusing."
            )
        existing = s.scalar(
            select(func.count()).select_from(LedgerRow).where(LedgerRow.proposal_id == proposal.id)
        )
        if existing == len(keys):
            return len(keys)
        rows = [
            {
                "proposal_id": proposal.id,
                "seq": seq,
                "idempotency_key": key,
                "target_type": action.target_type,
                "target_id": action.target_id,
                "action": action.action.value,
                "section_id": action.section_id,
                "status": PENDING,
                "attempts": 0,
            }
            for seq, (key, action) in enumerate(zip(keys, proposal.actions, strict=True))
        ]
        # One compiled statement, executed as batched multi-row inserts by the driver layer.
        s.execute(
            conflict_insert(dialect, LedgerRow.__table__).on_conflict_do_nothing(  # type: ignore[arg-type]
                index_elements=["proposal_id", "seq"]
            ),
            rows,
        )
    return len(keys)


def _claim(session: Session, proposal_id: str, batch_size: int, skip: set[int]) -> list[_Claimed]:
    # SKIP LOCKED: another worker's in-flight batch is left to it; SQLite ignores the clause
    # (its store transactions already hold the database write lock).
    query = (
        select(
            LedgerRow.id,
            LedgerRow.idempotency_key,
            LedgerRow.attempts,
            LedgerRow.target_type,
            LedgerRow.target_id,
            LedgerRow.action,
            LedgerRow.section_id,
        )
        .where(LedgerRow.proposal_id == proposal_id, LedgerRow.status == PENDING)
        .order_by(LedgerRow.seq)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(LedgerRow.id.not_in(skip))
    rows = session.execute(query).all()
    return [
        _Claimed(
            id=r.id,
            key=r.idempotency_key,
            attempts=r.attempts,
            # The ledger holds values validated when it was written from the approved proposal.
            action=PlannedAction.model_construct(
                target_type=r.target_type,
                target_id=r.target_id,
                action=ActionType(r.action),
                section_id=r.section_id,
            ),
        )
        for r in rows
    ]


def _joins_transaction(run: _Run) -> bool:
    # A reversal is never sent inside the store's transaction (see the module doc).
    gateway = run.gateway
    return (
        run.proposal.reverses is None
        and isinstance(gateway, TransactionalGateway)
        and gateway.writes_to(run.store.engine)
    )


def _run_batch(run: _Run) -> _BatchStats | None:
    """Apply and settle one batch; None when no pending row is left for this worker."""
    store, gateway, proposal_id = run.store, run.gateway, run.proposal.id
    if _joins_transaction(run):
        assert isinstance(gateway, TransactionalGateway)
        with store.session() as s:
            claimed = _claim(s, proposal_id, run.batch_size, run.deferred)
            if not claimed:
                return None
            outcomes = gateway.apply_in(s, _items(claimed), proposal_id=proposal_id)
            return _settle(s, run, claimed, outcomes, locked=True)
    if store.is_postgres:
        # The claimed rows stay locked during the call: no other worker sends them meanwhile.
        with store.session() as s:
            claimed = _claim(s, proposal_id, run.batch_size, run.deferred)
            if not claimed:
                return None
            reply = _call(run, claimed)
            if not isinstance(reply, GatewayError):
                return _settle(s, run, claimed, reply, locked=True)
            _note_failure(s, claimed, reply)
        raise reply
    # SQLite: do not hold the database write lock while waiting on the network.
    with store.session() as s:
        claimed = _claim(s, proposal_id, run.batch_size, run.deferred)
    if not claimed:
        return None
    reply = _call(run, claimed)
    with store.session() as s:
        if not isinstance(reply, GatewayError):
            return _settle(s, run, claimed, reply, locked=False)
        _note_failure(s, claimed, reply)
    raise reply


def _items(claimed: Sequence[_Claimed]) -> list[GatewayItem]:
    return [GatewayItem.model_construct(action=c.action, idempotency_key=c.key) for c in claimed]


def _call(run: _Run, claimed: Sequence[_Claimed]) -> list[BatchOutcome] | GatewayError:
    original = run.proposal.reverses
    try:
        if original is not None:
            return reversal.reverse(run.gateway, _items(claimed), proposal_id=original)
        return run.gateway.apply_batch(_items(claimed), proposal_id=run.proposal.id)
    except GatewayError as exc:
        return exc


def _note_failure(session: Session, claimed: Sequence[_Claimed], exc: GatewayError) -> None:
    """Leave the rows pending (the run is resumable) but record what happened to them."""
    session.execute(
        update(LedgerRow)
        .where(LedgerRow.id.in_([c.id for c in claimed]), LedgerRow.status == PENDING)
        .values(attempts=LedgerRow.attempts + 1, last_error=redact(str(exc))[:1000])
    )


_LEDGER = LedgerRow.__table__
# One Core UPDATE by primary key, run as an executemany: no ORM bookkeeping per ledger row.
_LEDGER_UPDATE = (
    update(_LEDGER)  # type: ignore[arg-type]
    .where(_LEDGER.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        receipt_id=bindparam("b_receipt_id"),
        applied_at=bindparam("b_applied_at"),
        attempts=bindparam("b_attempts"),
        last_error=bindparam("b_last_error"),
    )
)


def _settle(
    session: Session,
    run: _Run,
    claimed: Sequence[_Claimed],
    outcomes: Sequence[BatchOutcome],
    *,
    locked: bool,
) -> _BatchStats:
    """Mark the batch in the ledger and write its strikes, reasons and audit events, once.

    `locked`: the rows were claimed in this same transaction (row locks on Postgres, the write
    lock on SQLite), so they are still pending; otherwise re-read which ones still are.
    """
    ids = [c.id for c in claimed]
    still_pending = (
        set(ids)
        if locked
        else set(
            session.scalars(
                select(LedgerRow.id).where(LedgerRow.id.in_(ids), LedgerRow.status == PENDING)
            )
        )
    )
    now = _now()
    updates: list[dict[str, object]] = []
    done: list[tuple[_Claimed, BatchOutcome]] = []
    for claim, outcome in zip(claimed, outcomes, strict=True):
        if claim.id not in still_pending:
            continue
        applied_here = outcome.receipt is not None
        if not applied_here and outcome.retryable:
            run.deferred.add(claim.id)
            updates.append(
                {
                    "b_id": claim.id,
                    "b_status": PENDING,
                    "b_receipt_id": None,
                    "b_applied_at": None,
                    "b_attempts": claim.attempts + 1,
                    "b_last_error": redact(outcome.error or "retry later")[:1000],
                }
            )
            continue
        updates.append(
            {
                "b_id": claim.id,
                "b_status": APPLIED if applied_here else FAILED,
                "b_receipt_id": outcome.receipt.receipt_id if outcome.receipt else None,
                "b_applied_at": now if applied_here else None,
                "b_attempts": claim.attempts + 1,
                "b_last_error": None
                if applied_here
                else redact(outcome.error or "refused by the platform")[:1000],
            }
        )
        done.append((claim, outcome))
    if updates:
        session.execute(_LEDGER_UPDATE.values(worker_id=run.worker), updates)
    applied = [(c, o) for c, o in done if o.receipt is not None]
    return _BatchStats(
        applied=len(applied),
        failed=len(done) - len(applied),
        replayed=sum(1 for _c, o in applied if o.receipt is not None and o.receipt.replayed),
        suspended=_record_effects(session, run, done, now),
    )


def _record_effects(
    session: Session,
    run: _Run,
    done: Sequence[tuple[_Claimed, BatchOutcome]],
    now: datetime,
) -> tuple[str, ...]:
    """Strikes, account suspensions, statements of reasons and audit events for one batch."""
    if run.proposal.reverses is not None:
        _record_reversals(session, run, done, now)
        return ()
    proposal = run.proposal
    suspended: list[str] = []
    actor = f"fanout:{run.worker}"
    approvers = [a.approver_id for a in proposal.approvals]
    # One list of audit events per claim, so the batch's events keep the claims' order.
    slots: list[list[EventSpec]] = []
    explained: list[tuple[PlannedAction, str]] = []
    strike_run: list[tuple[list[EventSpec], _Claimed]] = []
    strike_weights: list[int | None] = []
    authors = strikes.authors_of(session, [c.action for c, o in done if o.receipt is not None])

    def apply_strike_run() -> None:
        # Consecutive strikes go to `apply_strikes` together; a suspension in between ends
        # the run first, so every strike sees the account status it would have seen alone.
        if not strike_run:
            return
        results = strikes.apply_strikes(
            run.store,
            run.catalogue,
            [(c.action, c.key) for _slot, c in strike_run],
            actor=actor,
            source="fanout",
            proposal_hash=proposal.action_hash,
            now=now,
            session=session,
            strike_weights=list(strike_weights),
        )
        for (slot, claim), (result, strike_events) in zip(strike_run, results, strict=True):
            slot[:0] = strike_events
            if result.suspended:
                suspended.append(claim.action.target_id)
        strike_run.clear()
        strike_weights.clear()

    for claim, outcome in done:
        action = claim.action
        slot: list[EventSpec] = []
        slots.append(slot)
        if outcome.receipt is None:
            slot.append(
                _event(
                    proposal,
                    claim,
                    actor,
                    "action.failed",
                    "failed",
                    now,
                    approvers,
                    {"error": redact(outcome.error or "refused by the platform")[:1000]},
                )
            )
            continue
        if action.action == ActionType.STRIKE:
            # One strike per (proposal, account): the key a strike action on it would have.
            strike_run.append(
                (
                    slot,
                    _Claimed(
                        claim.id,
                        strikes.strike_key(proposal.id, action.target_id),
                        claim.attempts,
                        action,
                    ),
                )
            )
            strike_weights.append(None)
        elif action.action == ActionType.SUSPEND:
            apply_strike_run()
            ensure_account(session, action.target_id).status = "suspended"
            _rest, rest_events = restrictions.restrict(
                session,
                run.catalogue,
                account_id=action.target_id,
                spec=RestrictionSpec(restriction=RestrictionType.SUSPEND, days=None),
                section_id=action.section_id,
                cause_key=claim.key,
                reason=f"The account was suspended under section {action.section_id}.",
                actor=actor,
                source="fanout",
                now=now,
            )
            slot.extend(rest_events)
        else:
            # A content action adds the strike the catalogue gives it to the item's author.
            struck = strikes.struck_account(action, authors, run.catalogue)
            if struck is not None:
                author, weight = struck
                strike_action = PlannedAction.model_construct(
                    target_type="account",
                    target_id=author,
                    action=ActionType.STRIKE,
                    section_id=action.section_id,
                )
                key = strikes.strike_key(proposal.id, author)
                strike_run.append((slot, _Claimed(claim.id, key, claim.attempts, strike_action)))
                strike_weights.append(weight)
                explained.append((strike_action, key))  # its own statement, once per account
        section = run.catalogue.section(action.section_id)
        if section.on_violation is not None:
            account = (
                authors.get(action.target_id)
                if action.target_type == "content"
                else (action.target_id)
            )
            if account is not None:
                apply_strike_run()
                _rest, rest_events = restrictions.restrict(
                    session,
                    run.catalogue,
                    account_id=account,
                    spec=section.on_violation,
                    section_id=section.id,
                    cause_key=f"{proposal.id}:account:{account}:on_violation",
                    reason=f"One confirmed violation of section {section.id} "
                    f"(“{section.title}”) restricts the account at once.",
                    actor=actor,
                    source="fanout",
                    now=now,
                )
                slot.extend(rest_events)
        explained.append((action, claim.key))
        slot.append(
            _event(
                proposal,
                claim,
                actor,
                "action.applied",
                "applied",
                now,
                approvers,
                {"receipt_id": outcome.receipt.receipt_id, "replayed": outcome.receipt.replayed},
            )
        )
    apply_strike_run()
    events = [event for slot in slots for event in slot]
    if explained:
        reasons.issue_statements(
            run.store,
            run.catalogue,
            reasons.inputs_for_proposal(
                run.catalogue,
                proposal,
                explained,
                case=run.case,
                sample_size=SAMPLE_SIZE,
                now=now,
            ),
            now=now,
            session=session,
        )
    # Audit last: on Postgres its lock serialises workers, so hold it for as short as possible.
    append_batch(session, events)
    return tuple(suspended)


def _record_reversals(
    session: Session,
    run: _Run,
    done: Sequence[tuple[_Claimed, BatchOutcome]],
    now: datetime,
) -> None:
    """For one batch of a reversal proposal: each account is told what was reversed, and what
    the original decision did to it (strikes, restrictions) is undone once none of its actions
    against the account stands."""
    proposal, original = run.proposal, run.proposal.reverses
    assert original is not None
    actor = f"fanout:{run.worker}"
    approvers = [a.approver_id for a in proposal.approvals]
    authors = strikes.authors_of(session, [c.action for c, _o in done])
    events: list[EventSpec] = []
    accounts: dict[str, list[PlannedAction]] = {}
    for claim, outcome in done:
        if outcome.receipt is None:
            error = redact(outcome.error or "refused by the platform")[:1000]
            events.append(
                _event(proposal, claim, actor, "action.failed", "failed", now, approvers,
                       {"error": error})
            )  # fmt: skip
            continue
        events.append(
            _event(
                proposal,
                claim,
                actor,
                "action.reversed",
                "reversed",
                now,
                approvers,
                {
                    "receipt_id": outcome.receipt.receipt_id,
                    "replayed": outcome.receipt.replayed,
                    "reverses": original,
                },
            )
        )
        account = reversal.account_of(claim.action, authors)
        if account is not None:
            accounts.setdefault(account, []).append(claim.action)
    reason = f"QA reversal {proposal.id} of decision {original}"
    for account, reversed_now in accounts.items():
        # While another of the decision's actions against the account stands, so do its strikes.
        stands = reversal.still_standing(session, original, account)
        undone = (
            reversal.Undone()
            if stands
            else reversal.undo_effects(
                session,
                run.store,
                run.catalogue,
                proposal_id=original,
                account_id=account,
                actor=actor,
                reason=reason,
                now=now,
                source="qa",
            )
        )
        events += undone.events
        reversal.reversal_notice(
            session,
            run.catalogue,
            proposal_id=proposal.id,
            original_id=original,
            policy_id=proposal.policy_id,
            account_id=account,
            reversed_actions=reversed_now,
            undone=undone,
            rest_stands=stands,
            now=now,
        )
    append_batch(session, events)


def _event(
    proposal: Proposal,
    claim: _Claimed,
    actor: str,
    verb: str,
    outcome: str,
    now: datetime,
    approvers: list[str],
    extra: dict[str, object],
) -> EventSpec:
    action = claim.action
    return EventSpec(
        actor=actor,
        verb=verb,
        subject=claim.key,
        source="fanout",
        outcome=outcome,
        policy_id=proposal.policy_id,
        section_id=action.section_id,
        policy_version=proposal.policy_version,
        proposal_hash=proposal.action_hash,
        details={
            "proposal_id": proposal.id,
            "target_type": action.target_type,
            "target_id": action.target_id,
            "action": action.action.value,
            "approved_by": approvers,
            "requested_by": proposal.requester_id,
            **extra,
        },
        at=now,
    )


def _counts(store: Store, proposal_id: str) -> tuple[int, int, int]:
    with store.session() as s:
        rows = s.execute(
            select(LedgerRow.status, func.count())
            .where(LedgerRow.proposal_id == proposal_id)
            .group_by(LedgerRow.status)
        ).all()
    counts = {status: n for status, n in rows}
    return counts.get(APPLIED, 0), counts.get(FAILED, 0), counts.get(PENDING, 0)


def _finish_if_done(store: Store, proposal_id: str, worker: str) -> ProposalStatus:
    applied, failed, pending = _counts(store, proposal_id)
    if pending:
        # Another worker holds the rest; it finishes the proposal when its last batch commits.
        return store.get_proposal(proposal_id).status
    with store.session() as s:
        run = s.get(FanoutRunRow, proposal_id)
        if run is not None and run.finished_at is None:
            run.finished_at = _now()
        summary = {"applied": applied, "failed": failed}
        if failed:
            done = proposals.mark_failed(
                store,
                proposal_id,
                reason=f"{failed} of {applied + failed} actions were refused by the platform",
                worker_id=worker,
                session=s,
            )
        else:
            done = proposals.mark_executed(
                store, proposal_id, worker_id=worker, summary=summary, session=s
            )
        # A specialist's decision: its case is actioned and closed with the last action.
        from tools.casework import on_proposal_finished

        on_proposal_finished(s, proposal_id, done.status.value, _now())
        return done.status


def status(store: Store, proposal_id: str) -> FanoutStatus:
    """Read the ledger of one proposal: counts, workers, the first errors."""
    proposal = store.get_proposal(proposal_id)
    applied, failed, pending = _counts(store, proposal_id)
    with store.session() as s:
        run = s.get(FanoutRunRow, proposal_id)
        workers = {
            str(worker): int(n)
            for worker, n in s.execute(
                select(LedgerRow.worker_id, func.count())
                .where(LedgerRow.proposal_id == proposal_id, LedgerRow.worker_id.is_not(None))
                .group_by(LedgerRow.worker_id)
            )
        }
        errors = s.scalars(
            select(LedgerRow.idempotency_key + ": " + LedgerRow.last_error)
            .where(LedgerRow.proposal_id == proposal_id, LedgerRow.last_error.is_not(None))
            .order_by(LedgerRow.seq)
            .limit(5)
        ).all()
    return FanoutStatus(
        proposal_id=proposal_id,
        proposal_status=proposal.status,
        total=run.total if run else len(proposal.actions),
        applied=applied,
        failed=failed,
        pending=pending if run else len(proposal.actions),
        started_at=run.started_at if run else None,
        finished_at=run.finished_at if run else None,
        workers=workers,
        errors=list(errors),
    )
