"""Tables of the fanout ledger and of the built-in local enforcement platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Mapped, mapped_column

from tools.db import Base
from warden.errors import ConfigError

# Ledger row states. A row leaves "pending" exactly once, in the same transaction that writes
# the row's strikes, statement of reasons and audit event.
PENDING = "pending"
APPLIED = "applied"
FAILED = "failed"


class FanoutRunRow(Base):
    """One execution of one approved proposal; binds the ledger to the approved action hash."""

    __tablename__ = "fanout_runs"

    proposal_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    action_hash: Mapped[str] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LedgerRow(Base):
    """One planned action of a proposal and whether it has landed on the platform."""

    __tablename__ = "fanout_ledger"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_fanout_ledger_idempotency_key"),
        UniqueConstraint("proposal_id", "seq", name="uq_fanout_ledger_proposal_seq"),
        Index("ix_fanout_ledger_proposal_status_seq", "proposal_id", "status", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    section_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    receipt_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PlatformReceiptRow(Base):
    """The local platform's record of every action it applied, one row per idempotency key."""

    __tablename__ = "platform_receipts"

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(100), unique=True)
    proposal_id: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    section_id: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Times this key was delivered; > 1 means a replay that was answered with the first receipt.
    deliveries: Mapped[int] = mapped_column(Integer, default=1)


class PlatformTargetRow(Base):
    """The local platform's current state of one content item or account."""

    __tablename__ = "platform_targets"

    target_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Counts of applications per action, not flags: a count above 1 for one proposal would
    # show an action applied twice, which the exactly-once tests look for.
    labels: Mapped[int] = mapped_column(Integer, default=0)
    limits: Mapped[int] = mapped_column(Integer, default=0)
    removals: Mapped[int] = mapped_column(Integer, default=0)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    suspensions: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


FANOUT_TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[row.__tablename__]
    for row in (FanoutRunRow, LedgerRow, PlatformReceiptRow, PlatformTargetRow)
)


def conflict_insert(dialect: str, table: Table) -> pg.Insert | sqlite.Insert:
    """An INSERT that supports ON CONFLICT on both engines the store runs on."""
    if dialect == "postgresql":
        return pg.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ConfigError(f"The fanout supports SQLite and PostgreSQL, not {dialect!r}.")
