"""Tables of the automation gates and operations: eval runs, gate modes, shadow records, QA."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from tools.db import Base


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both engines (SQLite hands back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EvalRunRow(Base):
    """One `warden eval` run; the full metrics are kept so later runs can be compared."""

    __tablename__ = "ops_eval_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(300))
    mapping: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    n_cases: Mapped[int] = mapped_column(Integer)
    row_limit: Mapped[int | None] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)


class EvalPolicyRow(Base):
    """Per-policy figures of one run: what the gate check reads."""

    __tablename__ = "ops_eval_policy"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("ops_eval_runs.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    tp: Mapped[int] = mapped_column(Integer)
    fp: Mapped[int] = mapped_column(Integer)
    fn: Mapped[int] = mapped_column(Integer)
    tn: Mapped[int] = mapped_column(Integer)
    support: Mapped[int] = mapped_column(Integer)
    precision: Mapped[float | None] = mapped_column(Float)
    recall: Mapped[float | None] = mapped_column(Float)
    abstained: Mapped[int] = mapped_column(Integer)
    escalated: Mapped[int] = mapped_column(Integer)


class GateModeRow(Base):
    """A mode set with `warden gates set`; overrides the gates file and is shared by replicas."""

    __tablename__ = "ops_gate_modes"

    policy_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20))
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    eval_run_id: Mapped[str | None] = mapped_column(String(40))


class ShadowRecordRow(Base):
    """What would have been proposed while a policy is in shadow mode (never posted)."""

    __tablename__ = "ops_shadow_records"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    policy_id: Mapped[str] = mapped_column(String(40), index=True)
    section_ids: Mapped[list[str]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(100), index=True)
    cluster_id: Mapped[str | None] = mapped_column(String(100))
    target_ids: Mapped[list[str]] = mapped_column(JSON)
    batch_size: Mapped[int] = mapped_column(Integer)
    requester_id: Mapped[str] = mapped_column(String(100))
    human_action: Mapped[str | None] = mapped_column(String(40))
    human_decided_by: Mapped[str | None] = mapped_column(String(100))
    human_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreed: Mapped[bool | None] = mapped_column(Boolean)


class QASampleRow(Base):
    """A decided case or executed action routed back to a reviewer."""

    __tablename__ = "ops_qa_samples"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", name="uq_ops_qa_subject"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(200))
    policy_id: Mapped[str | None] = mapped_column(String(40), index=True)
    vendor_team: Mapped[str | None] = mapped_column(String(100))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reviewer_id: Mapped[str | None] = mapped_column(String(100))
    agree: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slack_channel: Mapped[str | None] = mapped_column(String(40))
    slack_ts: Mapped[str | None] = mapped_column(String(40))
    # issue 15 (migration i15b): bulk, auto-proposal or specialist, for QA scores per path.
    automation: Mapped[str | None] = mapped_column(String(32))


class AppealRow(Base):
    """An appeal against one executed action (the store only records overturned strikes)."""

    __tablename__ = "ops_appeals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    action_key: Mapped[str] = mapped_column(String(255), index=True)
    policy_id: Mapped[str | None] = mapped_column(String(40), index=True)
    account_id: Mapped[str | None] = mapped_column(String(128))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    # issue 11: appeals filed against a case decision (migration i11a)
    case_id: Mapped[str | None] = mapped_column(String(128))
    proposal_id: Mapped[str | None] = mapped_column(String(64))
    pod: Mapped[str | None] = mapped_column(String(64))
    grounds: Mapped[str | None] = mapped_column(Text)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    original_decider: Mapped[str | None] = mapped_column(String(128))
    vendor_team: Mapped[str | None] = mapped_column(String(64))


OPS_TABLES = [
    EvalRunRow.__table__,
    EvalPolicyRow.__table__,
    GateModeRow.__table__,
    ShadowRecordRow.__table__,
    QASampleRow.__table__,
    AppealRow.__table__,
]
