"""Webhooks out: a durable outbox in the store, delivered signed, at least once, in order per case.

Invariant: an event that happened is delivered to every subscriber of its type at least once,
kill -9 included, and a receiver can drop repeats by the event id.

- `enqueue` writes the event in the caller's transaction, so the event and its outbox row commit
  or vanish together. `tools.audit` calls it for every audited event that maps to a webhook type
  (`AUDIT_EVENTS`), which puts every reachable event in the same transaction as its audit row
  without a second call at each site.
- `deliver_once` posts pending events to each subscriber and records the outcome only after the
  receiver answered 2xx. A crash between the POST and that record re-sends the event (same id) on
  the next run: at least once, never lost. Events of one ordering key (the case, else the
  proposal or escalation) wait behind an earlier one that has not been delivered yet; after
  `max_attempts` failures an event is dead-lettered and the key moves on.
- Signature, as Slack's: `X-Warden-Signature: v1=HMAC-SHA256(secret, "v1:" + timestamp + ":" +
  body)` with `X-Warden-Request-Timestamp`; receivers refuse stale timestamps.

Several deliverers may run (one per replica): each event may then reach a receiver more than once,
which the event id covers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import Integer, String, Text, and_, func, insert, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tools.db import Base
from tools.ops_tables import UTCDateTime
from tools.store import Store
from tools.tables import EscalationRow, ProposalRow
from warden.integrations import EventType, WebhookSubscriber

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Warden-Signature"
TIMESTAMP_HEADER = "X-Warden-Request-Timestamp"
EVENT_ID_HEADER = "X-Warden-Event-Id"
EVENT_TYPE_HEADER = "X-Warden-Event-Type"
RETRY, DELIVERED, DEAD = "retry", "delivered", "dead"


class OutboxRow(Base):
    """One event, written in the transaction of what it reports; never changed afterwards."""

    __tablename__ = "webhook_outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40), index=True)
    ordering_key: Mapped[str] = mapped_column(String(255))
    case_id: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes (UTF-8) that are signed and sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryRow(Base):
    """Where one event stands for one subscriber (no row yet: never tried)."""

    __tablename__ = "webhook_deliveries"

    subscriber: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# audit verb (and outcome, where the verb alone is not the event) -> webhook event type
AUDIT_EVENTS: dict[tuple[str, str | None], EventType] = {
    ("action.applied", None): EventType.ACTION_APPLIED,
    ("proposal.approve", "approved"): EventType.PROPOSAL_APPROVED,
    ("proposal.reject", "rejected"): EventType.PROPOSAL_REJECTED,
    ("proposal.expired", None): EventType.PROPOSAL_EXPIRED,
    ("escalation.opened", None): EventType.ESCALATION_OPENED,
    ("escalation.resolve", None): EventType.ESCALATION_RESOLVED,
    ("case.decided", None): EventType.DECISION_RECORDED,
    ("appeal.upheld", None): EventType.APPEAL_DECIDED,
    ("appeal.overturned", None): EventType.APPEAL_DECIDED,
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def enqueue(
    session: Session,
    event_type: EventType | str,
    payload: dict[str, Any],
    case_id: str | None,
    *,
    key: str | None = None,
    at: datetime | None = None,
) -> str:
    """Write one event in the caller's transaction; return its id. `key` orders delivery
    (default: the case id, else the event id: no ordering)."""
    return enqueue_many(session, [(EventType(event_type), payload, case_id, key)], at=at)[0]


def enqueue_many(
    session: Session,
    events: Sequence[tuple[EventType, dict[str, Any], str | None, str | None]],
    *,
    at: datetime | None = None,
) -> list[str]:
    if not events:
        return []
    when = at or _utcnow()
    rows: list[dict[str, Any]] = []
    for event_type, payload, case_id, key in events:
        event_id = f"evt_{uuid.uuid4().hex}"
        body = {
            "id": event_id,
            "type": event_type.value,
            "created_at": when.isoformat(),
            "case_id": case_id,
            "data": payload,
        }
        rows.append(
            {
                "event_id": event_id,
                "event_type": event_type.value,
                "ordering_key": (key or case_id or event_id)[:255],
                "case_id": case_id,
                "body": json.dumps(body, sort_keys=True, separators=(",", ":"), default=str),
                "created_at": when,
            }
        )
    session.execute(insert(OutboxRow.__table__), rows)  # type: ignore[arg-type]
    return [r["event_id"] for r in rows]


def from_audit(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Enqueue the webhook events among freshly appended audit rows (same transaction)."""
    events: list[tuple[EventType, dict[str, Any], str | None, str | None]] = []
    cases: dict[str, str | None] = {}
    for row in rows:
        verb, outcome = row["verb"], row["outcome"]
        event_type = AUDIT_EVENTS.get((verb, None)) or AUDIT_EVENTS.get((verb, outcome))
        if event_type is None:
            continue
        details = json.loads(row["details"])
        subject = str(row["subject"])
        proposal_id = details.get("proposal_id")
        if proposal_id is None and subject.startswith("proposal:"):
            proposal_id = subject.removeprefix("proposal:")
        case_id = details.get("case_id") or _case_of(session, subject, proposal_id, cases)
        payload = {
            "subject": subject,
            "actor": row["actor"],
            "outcome": outcome,
            "policy_id": row["policy_id"],
            "section_id": row["section_id"],
            "policy_version": row["policy_version"],
            "proposal_id": proposal_id,
            "audit_seq": row["seq"],
            "details": details,
        }
        key = case_id or (f"proposal:{proposal_id}" if proposal_id else subject)
        events.append((event_type, payload, case_id, key))
    enqueue_many(session, events, at=None)


def _case_of(
    session: Session, subject: str, proposal_id: str | None, cases: dict[str, str | None]
) -> str | None:
    """The case an event belongs to, for ordering. Only the case id column is read, once per
    proposal or escalation and call (`cases`): a bulk proposal's row carries every target, and
    loading it for each of its audit rows made a fanout's cost grow with the square of its size.
    """
    if proposal_id is not None:
        key = f"proposal:{proposal_id}"
        if key not in cases:
            cases[key] = session.scalar(
                select(ProposalRow.case_id).where(ProposalRow.id == proposal_id)
            )
        return cases[key]
    if subject.startswith("case:"):
        return subject.removeprefix("case:")
    if subject.startswith("escalation:"):
        if subject not in cases:
            cases[subject] = session.scalar(
                select(EscalationRow.case_id).where(
                    EscalationRow.id == subject.removeprefix("escalation:")
                )
            )
        return cases[subject]
    return None


# ---- signing ---------------------------------------------------------------------------------


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    base = b"v1:" + timestamp.encode("ascii") + b":" + body
    return "v1=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float | None = None,
    max_age_s: int = 300,
) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature (constant time)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or abs((now or time.time()) - int(stamp)) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


# ---- delivery --------------------------------------------------------------------------------


def backoff(attempts: int, *, base_s: float = 2.0, cap_s: float = 600.0) -> timedelta:
    """Exponential backoff with jitter after `attempts` failures."""
    delay = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


class DeliveryReport(BaseModel):
    delivered: int = 0
    failed: int = 0
    dead: int = 0


def _due(
    session: Session, sub: WebhookSubscriber, limit: int
) -> list[tuple[OutboxRow, DeliveryRow | None]]:
    query = (
        select(OutboxRow, DeliveryRow)
        .outerjoin(
            DeliveryRow,
            and_(DeliveryRow.event_seq == OutboxRow.seq, DeliveryRow.subscriber == sub.name),
        )
        .where(
            OutboxRow.event_type.in_(sorted(e.value for e in sub.events)),
            or_(DeliveryRow.status.is_(None), DeliveryRow.status == RETRY),
        )
        .order_by(OutboxRow.seq)
        .limit(limit)
    )
    return [(o, d) for o, d in session.execute(query).all()]


def _record(
    store: Store,
    sub: WebhookSubscriber,
    seq: int,
    *,
    ok: bool,
    error: str | None,
    max_attempts: int,
    now: datetime,
) -> str:
    with store.session() as s:
        row = s.get(DeliveryRow, (sub.name, seq))
        if row is None:
            row = DeliveryRow(subscriber=sub.name, event_seq=seq, attempts=0, status=RETRY)
            s.add(row)
        row.attempts += 1
        row.updated_at = now
        if ok:
            row.status, row.last_error, row.next_attempt_at = DELIVERED, None, None
        else:
            row.last_error = (error or "failed")[:1000]
            if row.attempts >= max_attempts:
                row.status, row.next_attempt_at = DEAD, None
            else:
                row.status, row.next_attempt_at = RETRY, now + backoff(row.attempts)
        return row.status


def _post(client: httpx.Client, sub: WebhookSubscriber, event: OutboxRow) -> str | None:
    """POST one event; None when the receiver took it (2xx), else why not."""
    body = event.body.encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(sub.secret.get_secret_value().encode(), stamp, body),
        EVENT_ID_HEADER: event.event_id,
        EVENT_TYPE_HEADER: event.event_type,
        "User-Agent": "Warden-Webhooks/1",
    }
    try:
        response = client.post(sub.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def deliver_once(
    store: Store,
    subscribers: Sequence[WebhookSubscriber],
    client: httpx.Client,
    *,
    max_attempts: int = 8,
    batch: int = 200,
    now: Callable[[], datetime] = _utcnow,
) -> DeliveryReport:
    """One pass over every subscriber's due events, in order per ordering key."""
    report = DeliveryReport()
    for sub in subscribers:
        with store.session() as s:
            due = _due(s, sub, batch)
        blocked: set[str] = set()
        for event, state in due:
            if event.ordering_key in blocked:
                continue
            retry_at = state.next_attempt_at if state is not None else None
            if retry_at is not None and retry_at > now():
                blocked.add(event.ordering_key)  # a later event of this key must wait too
                continue
            error = _post(client, sub, event)
            status = _record(
                store,
                sub,
                event.seq,
                ok=error is None,
                error=error,
                max_attempts=max_attempts,
                now=now(),
            )
            if status == DELIVERED:
                report.delivered += 1
            elif status == DEAD:
                report.dead += 1
                log.warning("webhook %s to %s dead-lettered: %s", event.event_id, sub.name, error)
            else:
                report.failed += 1
                blocked.add(event.ordering_key)
    return report


class Deliverer:
    """Runs `deliver_once` every `interval_s` in a background thread (in `warden serve`)."""

    def __init__(
        self,
        store: Store,
        subscribers: Sequence[WebhookSubscriber],
        *,
        interval_s: float = 1.0,
        max_attempts: int = 8,
        timeout_s: float = 10.0,
    ) -> None:
        self.store = store
        self.subscribers = list(subscribers)
        self.interval_s = interval_s
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                try:
                    deliver_once(
                        self.store, self.subscribers, client, max_attempts=self.max_attempts
                    )
                except Exception:  # a database hiccup must not end delivery for good
                    log.exception("webhook delivery pass failed; retrying")
                self._stop.wait(self.interval_s)

    def start(self) -> Deliverer:
        self._thread = threading.Thread(target=self.run, name="webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


# ---- status ----------------------------------------------------------------------------------


class SubscriberStatus(BaseModel):
    name: str
    url: str
    events: list[str]
    pending: int
    retrying: int
    delivered: int
    dead: int


class DeadLetter(BaseModel):
    subscriber: str
    event_id: str
    event_type: str
    attempts: int
    last_error: str | None
    updated_at: datetime


class WebhookStatus(BaseModel):
    events: int
    subscribers: list[SubscriberStatus]
    dead_letters: list[DeadLetter]


def status(
    store: Store, subscribers: Sequence[WebhookSubscriber], *, dead_limit: int = 20
) -> WebhookStatus:
    """Per subscriber: pending, retrying, delivered, dead; and the newest dead letters."""
    rows: list[SubscriberStatus] = []
    with store.session() as s:
        total = int(s.scalar(select(func.count()).select_from(OutboxRow)) or 0)
        for sub in subscribers:
            types = sorted(e.value for e in sub.events)
            wanted = int(
                s.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.event_type.in_(types))
                )
                or 0
            )
            counts = dict(
                s.execute(
                    select(DeliveryRow.status, func.count())
                    .where(DeliveryRow.subscriber == sub.name)
                    .group_by(DeliveryRow.status)
                ).all()
            )
            tried = sum(int(n) for n in counts.values())
            rows.append(
                SubscriberStatus(
                    name=sub.name,
                    url=sub.url,
                    events=types,
                    pending=max(0, wanted - tried),
                    retrying=int(counts.get(RETRY, 0)),
                    delivered=int(counts.get(DELIVERED, 0)),
                    dead=int(counts.get(DEAD, 0)),
                )
            )
        dead = s.execute(
            select(DeliveryRow, OutboxRow)
            .join(OutboxRow, OutboxRow.seq == DeliveryRow.event_seq)
            .where(DeliveryRow.status == DEAD)
            .order_by(DeliveryRow.updated_at.desc())
            .limit(dead_limit)
        ).all()
        letters = [
            DeadLetter(
                subscriber=d.subscriber,
                event_id=o.event_id,
                event_type=o.event_type,
                attempts=d.attempts,
                last_error=d.last_error,
                updated_at=d.updated_at,
            )
            for d, o in dead
        ]
    return WebhookStatus(events=total, subscribers=rows, dead_letters=letters)
