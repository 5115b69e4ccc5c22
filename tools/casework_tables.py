"""Tables of case work (issue 11): the queue's claims and decisions, account restrictions.

Schema owned by migration i11a; keep both in sync.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tools.db import Base

TS = DateTime(timezone=True)


class CaseWorkRow(Base):
    """Who holds a case, what they decided and how long it took (one row per worked case)."""

    __tablename__ = "case_work"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(TS)
    first_claimed_at: Mapped[datetime | None] = mapped_column(TS)
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(TS)
    section_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    exception_section: Mapped[str | None] = mapped_column(String(32))
    proposal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    escalation_id: Mapped[str | None] = mapped_column(String(64))
    # Seconds from the case's opening to its first claim, and from the claim to the decision.
    claim_wait_seconds: Mapped[float | None] = mapped_column(Float)
    handling_seconds: Mapped[float | None] = mapped_column(Float)
    # Optimistic concurrency: every transition is `UPDATE ... WHERE version = :seen`.
    version: Mapped[int] = mapped_column(Integer, default=0)


class RestrictionRow(Base):
    """An account-level restriction (limited distribution, suspension) with its start and end.

    A restriction ends by itself at `ends_at` (None: until lifted); `lifted_at` ends it early
    (an overturned appeal). The account's status is derived from the active ones.
    """

    __tablename__ = "account_restrictions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    restriction: Mapped[str] = mapped_column(String(32))
    policy_id: Mapped[str] = mapped_column(String(32))
    section_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime | None] = mapped_column(TS)
    # Unique: the same cause (a strike's key, a suspend action's key) restricts once.
    cause_key: Mapped[str] = mapped_column(String(255), unique=True)
    proposal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    statement_id: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(TS)
    lifted_by: Mapped[str | None] = mapped_column(String(128))
    lift_reason: Mapped[str | None] = mapped_column(Text)


CASEWORK_TABLES = [CaseWorkRow.__table__, RestrictionRow.__table__]
