"""ORM tables of the enforcement store (schema owned by migration 0001; keep both in sync)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tools.db import Base

TS = DateTime(timezone=True)


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(64))
    vendor_team: Mapped[str | None] = mapped_column(String(64))
    # The full validated Case as JSON: reports and signals are read whole, never queried.
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(TS)


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    handle: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime | None] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(16), default="active")


class ContentRow(Base):
    """Every content item the store knows, from cases and detector clusters alike."""

    __tablename__ = "content"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text)
    media_description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(TS)


class CaseItemRow(Base):
    __tablename__ = "case_items"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    content_id: Mapped[str] = mapped_column(ForeignKey("content.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class ClusterRow(Base):
    __tablename__ = "clusters"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(32))
    section_id: Mapped[str] = mapped_column(String(32))
    detector: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)


class ClusterItemRow(Base):
    __tablename__ = "cluster_items"

    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), primary_key=True)
    content_id: Mapped[str] = mapped_column(ForeignKey("content.id"), primary_key=True)


class StrikeRow(Base):
    __tablename__ = "strikes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    policy_id: Mapped[str] = mapped_column(String(32))
    section_id: Mapped[str] = mapped_column(String(32))
    weight: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime] = mapped_column(TS)
    # Unique: applying the same action twice (retry, resumed fanout) cannot add a second strike.
    source_action_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    overturned: Mapped[bool] = mapped_column(Boolean, default=False)
    overturned_at: Mapped[datetime | None] = mapped_column(TS)
    overturned_by: Mapped[str | None] = mapped_column(String(128))
    overturn_reason: Mapped[str | None] = mapped_column(Text)


class ProposalRow(Base):
    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(32))
    section_ids: Mapped[list[str]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(32))
    actions: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    requester_id: Mapped[str] = mapped_column(String(128))
    required_approvals: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime] = mapped_column(TS)
    action_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(128))
    cluster_id: Mapped[str | None] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(TS)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: every transition is `UPDATE ... WHERE version = :seen`.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # automated (detector, agent, bulk: gates apply) or decision (a specialist's own; i11a)
    origin: Mapped[str] = mapped_column(String(16), default="automated", server_default="automated")
    # A reversal proposal (origin qa): the proposal whose applied actions it undoes (i15c).
    reverses: Mapped[str | None] = mapped_column(String(64))


class ApprovalRow(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("proposal_id", "approver_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    approver_id: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(TS)
    action_hash: Mapped[str] = mapped_column(String(64))


class EscalationRow(Base):
    __tablename__ = "escalations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(String(128), index=True)
    policy_id: Mapped[str | None] = mapped_column(String(32))
    section_ids: Mapped[list[str]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(4))
    pod: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(128))
    on_call: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[str | None] = mapped_column(String(128))
    opened_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(TS)
    sla_due_at: Mapped[datetime] = mapped_column(TS)
    acknowledged_at: Mapped[datetime | None] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    resolution: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(64))
    reminded_at: Mapped[datetime | None] = mapped_column(TS)


class EscalationReminderRow(Base):
    """One row per (escalation, breach level): the primary key makes each reminder exactly-once."""

    __tablename__ = "escalation_reminders"

    escalation_id: Mapped[str] = mapped_column(ForeignKey("escalations.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    reminded_at: Mapped[datetime] = mapped_column(TS)


class AuditRow(Base):
    __tablename__ = "audit_events"

    # Assigned by the appender under a lock, never by the database: gaps mean deletion.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(TS)
    actor: Mapped[str] = mapped_column(String(128))
    verb: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(64))
    policy_id: Mapped[str | None] = mapped_column(String(32))
    section_id: Mapped[str | None] = mapped_column(String(32))
    policy_version: Mapped[str | None] = mapped_column(String(32))
    proposal_hash: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_id: Mapped[str | None] = mapped_column(String(128))
    # Canonical JSON text, hashed as stored so a one-byte change is caught.
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's last seq and hash: without it, deleting the newest rows would go unnoticed."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class StatementRow(Base):
    __tablename__ = "statements_of_reasons"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    action_key: Mapped[str] = mapped_column(String(255), unique=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    content_id: Mapped[str | None] = mapped_column(String(128))
    issued_at: Mapped[datetime] = mapped_column(TS)
    data: Mapped[dict[str, object]] = mapped_column(JSON)


Index("ix_strikes_account_issued", StrikeRow.account_id, StrikeRow.issued_at)
