"""ops: eval runs, gate modes, shadow records, QA samples

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ops_eval_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("dataset", sa.String(length=300), nullable=False),
        sa.Column("mapping", sa.String(length=100), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("n_cases", sa.Integer(), nullable=False),
        sa.Column("row_limit", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_eval_runs")),
    )
    op.create_index(op.f("ix_ops_eval_runs_started_at"), "ops_eval_runs", ["started_at"])
    op.create_table(
        "ops_eval_policy",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("tp", sa.Integer(), nullable=False),
        sa.Column("fp", sa.Integer(), nullable=False),
        sa.Column("fn", sa.Integer(), nullable=False),
        sa.Column("tn", sa.Integer(), nullable=False),
        sa.Column("support", sa.Integer(), nullable=False),
        sa.Column("precision", sa.Float(), nullable=True),
        sa.Column("recall", sa.Float(), nullable=True),
        sa.Column("abstained", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["ops_eval_runs.id"],
            name=op.f("fk_ops_eval_policy_run_id_ops_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "policy_id", name=op.f("pk_ops_eval_policy")),
    )
    op.create_index(op.f("ix_ops_eval_policy_policy_id"), "ops_eval_policy", ["policy_id"])
    op.create_table(
        "ops_gate_modes",
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.Column("eval_run_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_ops_gate_modes")),
    )
    op.create_table(
        "ops_shadow_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("section_ids", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=True),
        sa.Column("cluster_id", sa.String(length=100), nullable=True),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.String(length=100), nullable=False),
        sa.Column("human_action", sa.String(length=40), nullable=True),
        sa.Column("human_decided_by", sa.String(length=100), nullable=True),
        sa.Column("human_decided_at", TS, nullable=True),
        sa.Column("agreed", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_shadow_records")),
    )
    op.create_index(op.f("ix_ops_shadow_records_created_at"), "ops_shadow_records", ["created_at"])
    op.create_index(op.f("ix_ops_shadow_records_policy_id"), "ops_shadow_records", ["policy_id"])
    op.create_index(op.f("ix_ops_shadow_records_case_id"), "ops_shadow_records", ["case_id"])
    op.create_table(
        "ops_qa_samples",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=True),
        sa.Column("vendor_team", sa.String(length=100), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision", sa.String(length=200), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("sampled_at", TS, nullable=False),
        sa.Column("reviewer_id", sa.String(length=100), nullable=True),
        sa.Column("agree", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("slack_channel", sa.String(length=40), nullable=True),
        sa.Column("slack_ts", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_qa_samples")),
        sa.UniqueConstraint("subject_type", "subject_id", name="uq_ops_qa_subject"),
    )
    op.create_index(op.f("ix_ops_qa_samples_policy_id"), "ops_qa_samples", ["policy_id"])
    op.create_index(op.f("ix_ops_qa_samples_sampled_at"), "ops_qa_samples", ["sampled_at"])
    op.create_table(
        "ops_appeals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("action_key", sa.String(length=255), nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("filed_at", TS, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_appeals")),
    )
    op.create_index(op.f("ix_ops_appeals_action_key"), "ops_appeals", ["action_key"])
    op.create_index(op.f("ix_ops_appeals_policy_id"), "ops_appeals", ["policy_id"])
    op.create_index(op.f("ix_ops_appeals_filed_at"), "ops_appeals", ["filed_at"])


def downgrade() -> None:
    op.drop_table("ops_appeals")
    op.drop_table("ops_qa_samples")
    op.drop_table("ops_shadow_records")
    op.drop_table("ops_gate_modes")
    op.drop_table("ops_eval_policy")
    op.drop_table("ops_eval_runs")
