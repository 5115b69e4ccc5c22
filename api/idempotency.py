"""Idempotent submissions: a retried request with the same key gets the first answer back.

The key (the `Idempotency-Key` header, or the detector's own submission id) is reserved per
caller before any work, in its own transaction, so two concurrent retries cannot both do the
work: the loser sees the reservation (409 while it is in progress, the stored answer once it is
done). A refused request drops its reservation, so the caller can correct it and retry with the
same key. A reservation left behind by a crashed process is taken over after `STALE_AFTER`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Text, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from tools.db import Base
from tools.ops_tables import UTCDateTime
from tools.store import Store

STALE_AFTER = timedelta(seconds=60)


class IdempotencyRow(Base):
    """One reserved key of one caller; `status_code` is None while the first request runs."""

    __tablename__ = "api_idempotency"

    caller: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def request_hash(endpoint: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Replay:
    """The first answer to this key (to send again), or a conflict to report."""

    status_code: int
    body: dict[str, Any]


def reserve(store: Store, caller: str, key: str, endpoint: str, digest: str) -> Replay | None:
    """Reserve `key` for this request; None when this request should do the work."""
    now = datetime.now(UTC)
    try:
        with store.session() as s:
            s.add(
                IdempotencyRow(
                    caller=caller, key=key, endpoint=endpoint, request_hash=digest, created_at=now
                )
            )
        return None
    except IntegrityError:
        pass
    with store.session() as s:
        row = s.get(IdempotencyRow, (caller, key), populate_existing=True)
        if row is None:  # the holder was refused and released it meanwhile: take it
            s.add(
                IdempotencyRow(
                    caller=caller, key=key, endpoint=endpoint, request_hash=digest, created_at=now
                )
            )
            return None
        if row.endpoint != endpoint or row.request_hash != digest:
            return Replay(
                409,
                {
                    "detail": "this Idempotency-Key was used for a different request; "
                    "use a new key for new content"
                },
            )
        if row.status_code is not None and row.response is not None:
            return Replay(row.status_code, json.loads(row.response))
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        if now - created < STALE_AFTER:
            return Replay(409, {"detail": "a request with this Idempotency-Key is in progress"})
        taken = s.execute(
            update(IdempotencyRow)
            .where(
                IdempotencyRow.caller == caller,
                IdempotencyRow.key == key,
                IdempotencyRow.created_at == row.created_at,
                IdempotencyRow.status_code.is_(None),
            )
            .values(created_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) != 1:
            return Replay(409, {"detail": "a request with this Idempotency-Key is in progress"})
        return None


def complete(store: Store, caller: str, key: str, status_code: int, body: dict[str, Any]) -> None:
    with store.session() as s:
        s.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.caller == caller, IdempotencyRow.key == key)
            .values(status_code=status_code, response=json.dumps(body, default=str))
            .execution_options(synchronize_session=False)
        )


def release(store: Store, caller: str, key: str) -> None:
    with store.session() as s:
        s.execute(
            delete(IdempotencyRow).where(
                IdempotencyRow.caller == caller,
                IdempotencyRow.key == key,
                IdempotencyRow.status_code.is_(None),
            )
        )
