"""The append-only, hash-chained audit log of every decision and action.

Each event's hash is sha256 over its canonical JSON (every field but the hash, the previous
hash included), so changing, inserting or deleting any row breaks the chain from there on. A
one-row head table remembers the last seq and hash, so deleting the newest rows is caught too.
Appends are serialised: a transaction-scoped advisory lock on Postgres, the write lock that
every SQLite transaction of the store takes at BEGIN (`tools.store`). Triggers refuse UPDATE and
DELETE of events on both databases; someone with owner rights can still rewrite the chain and
its hashes, which the signed head checkpoints of `tools.audit_anchor` catch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from tools import outbox
from tools.models import AuditEvent, Frozen
from tools.store import Store, utc, utcnow
from tools.tables import AuditHeadRow, AuditRow

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 7270002


class EventSpec(Frozen):
    """What a caller records; seq, time and hashes are assigned on append."""

    actor: str
    verb: str
    subject: str
    source: str = "warden"
    outcome: str = "ok"
    policy_id: str | None = None
    section_id: str | None = None
    policy_version: str | None = None
    proposal_hash: str | None = None
    model: str | None = None
    prompt_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    at: datetime | None = None


def canonical_details(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)


def _timestamp(at: datetime) -> str:
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    verb: str,
    subject: str,
    source: str,
    outcome: str,
    policy_id: str | None,
    section_id: str | None,
    policy_version: str | None,
    proposal_hash: str | None,
    model: str | None,
    prompt_id: str | None,
    details: str,
    prev_hash: str,
) -> str:
    """Hash one event exactly as stored (details as its stored text, time to the microsecond)."""
    body = {
        "seq": seq,
        "at": _timestamp(at),
        "actor": actor,
        "verb": verb,
        "subject": subject,
        "source": source,
        "outcome": outcome,
        "policy_id": policy_id,
        "section_id": section_id,
        "policy_version": policy_version,
        "proposal_hash": proposal_hash,
        "model": model,
        "prompt_id": prompt_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _row_hash(row: AuditRow) -> str:
    return event_hash(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        verb=row.verb,
        subject=row.subject,
        source=row.source,
        outcome=row.outcome,
        policy_id=row.policy_id,
        section_id=row.section_id,
        policy_version=row.policy_version,
        proposal_hash=row.proposal_hash,
        model=row.model,
        prompt_id=row.prompt_id,
        details=row.details,
        prev_hash=row.prev_hash,
    )


def _event(row: AuditRow) -> AuditEvent:
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"unparseable": row.details}
    return AuditEvent(
        seq=row.seq,
        at=utc(row.at),
        actor=row.actor,
        verb=row.verb,
        subject=row.subject,
        source=row.source,
        outcome=row.outcome,
        policy_id=row.policy_id,
        section_id=row.section_id,
        policy_version=row.policy_version,
        proposal_hash=row.proposal_hash,
        model=row.model,
        prompt_id=row.prompt_id,
        details=details if isinstance(details, dict) else {"value": details},
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def append_many(session: Session, specs: list[EventSpec]) -> list[AuditEvent]:
    """Append events inside the caller's transaction (they commit or vanish with it)."""
    rows = _append_rows(session, specs)
    return [
        AuditEvent.model_validate({**row, "details": spec.details})
        for row, spec in zip(rows, specs, strict=True)
    ]


def append_batch(session: Session, specs: list[EventSpec]) -> int:
    """`append_many` for bulk callers (the fanout) that do not read the events back: the same
    rows, chain and lock, without building an `AuditEvent` per row. Returns the count."""
    return len(_append_rows(session, specs))


def _append_rows(session: Session, specs: list[EventSpec]) -> list[dict[str, Any]]:
    if not specs:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    # Re-read under the lock: a head cached earlier in this session may be stale.
    head = session.get(AuditHeadRow, 1, populate_existing=True)
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for spec in specs:
        seq += 1
        values: dict[str, Any] = {
            "seq": seq,
            "at": utc(spec.at or now),
            "actor": spec.actor,
            "verb": spec.verb,
            "subject": spec.subject,
            "source": spec.source,
            "outcome": spec.outcome,
            "policy_id": spec.policy_id,
            "section_id": spec.section_id,
            "policy_version": spec.policy_version,
            "proposal_hash": spec.proposal_hash,
            "model": spec.model,
            "prompt_id": spec.prompt_id,
            "details": canonical_details(spec.details),
            "prev_hash": prev,
        }
        values["hash"] = prev = event_hash(**values)
        rows.append(values)
    # Core executemany on the table: the ORM's per-row bookkeeping was most of a batch's cost.
    session.execute(insert(AuditRow.__table__), rows)  # type: ignore[arg-type]
    outbox.from_audit(session, rows)  # webhook events commit or vanish with their audit rows
    if head is None:
        session.add(AuditHeadRow(id=1, seq=seq, hash=prev))
    else:
        head.seq, head.hash = seq, prev
    session.flush()
    return rows


def append(store: Store, spec: EventSpec, *, session: Session | None = None) -> AuditEvent:
    """Append one event, in the caller's transaction if given one."""
    with store.use(session) as s:
        return append_many(s, [spec])[0]


def record(store: Store, *, session: Session | None = None, **fields: Any) -> AuditEvent:
    """Shorthand: `record(store, actor=..., verb=..., subject=..., ...)`."""
    return append(store, EventSpec(**fields), session=session)


class VerifyReport(BaseModel):
    ok: bool
    events: int
    first_broken_seq: int | None = None
    problem: str | None = None
    anchored: int = 0  # signed checkpoints it was checked against (tools/audit_anchor.py)


def _rows(store: Store, batch: int = 1000) -> Iterator[AuditRow]:
    last = 0
    while True:
        with store.session() as s:
            rows = s.scalars(
                select(AuditRow).where(AuditRow.seq > last).order_by(AuditRow.seq).limit(batch)
            ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(store: Store) -> VerifyReport:
    """Walk the chain; report the first seq where it breaks (changed, inserted or deleted rows)."""
    expected_seq, prev, count = 1, GENESIS, 0
    for row in _rows(store):
        count += 1
        if row.seq != expected_seq:
            return VerifyReport(
                ok=False,
                events=count,
                first_broken_seq=expected_seq,
                problem=f"event {expected_seq} is missing (next present is {row.seq}): deleted",
            )
        if row.prev_hash != prev:
            return VerifyReport(
                ok=False,
                events=count,
                first_broken_seq=row.seq,
                problem=f"event {row.seq} does not link to the previous event's hash",
            )
        if _row_hash(row) != row.hash:
            return VerifyReport(
                ok=False,
                events=count,
                first_broken_seq=row.seq,
                problem=f"event {row.seq} was changed after it was written (hash mismatch)",
            )
        prev = row.hash
        expected_seq += 1
    with store.session() as s:
        head = s.get(AuditHeadRow, 1)
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    last_seq = expected_seq - 1
    if head_seq != last_seq or head_hash != prev:
        return VerifyReport(
            ok=False,
            events=count,
            first_broken_seq=min(last_seq, head_seq) + 1,
            problem=(
                f"the chain ends at event {last_seq} but the head records event {head_seq}: "
                "the newest events were deleted or the head was altered"
            ),
        )
    return VerifyReport(ok=True, events=count)


def events(
    store: Store, *, subject: str | None = None, verb: str | None = None
) -> list[AuditEvent]:
    """Read events (oldest first), optionally for one subject or verb."""
    with store.session() as s:
        query = select(AuditRow).order_by(AuditRow.seq)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        if verb is not None:
            query = query.where(AuditRow.verb == verb)
        return [_event(r) for r in s.scalars(query)]


def export(store: Store, out: TextIO) -> int:
    """Write every event as JSONL, oldest first; return how many."""
    count = 0
    for row in _rows(store):
        out.write(_event(row).model_dump_json() + "\n")
        count += 1
    return count


def export_to(store: Store, path: Path) -> int:
    with path.open("w", encoding="utf-8") as out:
        return export(store, out)
