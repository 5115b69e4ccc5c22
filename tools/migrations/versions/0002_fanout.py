"""Fanout ledger and the local enforcement platform's state.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fanout_runs",
        sa.Column("proposal_id", sa.String(length=100), nullable=False),
        sa.Column("action_hash", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_fanout_runs")),
    )
    op.create_table(
        "fanout_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("proposal_id", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("section_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.String(length=100), nullable=True),
        sa.Column("worker_id", sa.String(length=100), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fanout_ledger")),
        sa.UniqueConstraint("idempotency_key", name="uq_fanout_ledger_idempotency_key"),
        sa.UniqueConstraint("proposal_id", "seq", name="uq_fanout_ledger_proposal_seq"),
    )
    op.create_index(
        "ix_fanout_ledger_proposal_status_seq",
        "fanout_ledger",
        ["proposal_id", "status", "seq"],
    )
    op.create_table(
        "platform_receipts",
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("receipt_id", sa.String(length=100), nullable=False),
        sa.Column("proposal_id", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("section_id", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_platform_receipts")),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_platform_receipts_receipt_id")),
    )
    op.create_index(op.f("ix_platform_receipts_proposal_id"), "platform_receipts", ["proposal_id"])
    op.create_table(
        "platform_targets",
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=100), nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("limits", sa.Integer(), nullable=False),
        sa.Column("removals", sa.Integer(), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("suspensions", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_type", "target_id", name=op.f("pk_platform_targets")),
    )


def downgrade() -> None:
    op.drop_table("platform_targets")
    op.drop_index(op.f("ix_platform_receipts_proposal_id"), table_name="platform_receipts")
    op.drop_table("platform_receipts")
    op.drop_index("ix_fanout_ledger_proposal_status_seq", table_name="fanout_ledger")
    op.drop_table("fanout_ledger")
    op.drop_table("fanout_runs")
