"""case work: claims and decisions, account restrictions, proposal origin, appeal details

Revision ID: i11a
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i11a"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_work",
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("first_claimed_at", TS, nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("section_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("exception_section", sa.String(length=32), nullable=True),
        sa.Column("proposal_id", sa.String(length=64), nullable=True),
        sa.Column("escalation_id", sa.String(length=64), nullable=True),
        sa.Column("claim_wait_seconds", sa.Float(), nullable=True),
        sa.Column("handling_seconds", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_work_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_work")),
    )
    op.create_index(op.f("ix_case_work_proposal_id"), "case_work", ["proposal_id"])
    op.create_table(
        "account_restrictions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("restriction", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        sa.Column("section_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("cause_key", sa.String(length=255), nullable=False),
        sa.Column("proposal_id", sa.String(length=64), nullable=True),
        sa.Column("statement_id", sa.String(length=64), nullable=True),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_restrictions_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_restrictions")),
        sa.UniqueConstraint("cause_key", name=op.f("uq_account_restrictions_cause_key")),
    )
    op.create_index(
        op.f("ix_account_restrictions_account_id"), "account_restrictions", ["account_id"]
    )
    op.create_index(
        op.f("ix_account_restrictions_proposal_id"), "account_restrictions", ["proposal_id"]
    )
    # automated (a detector, the agent, bulk) or decision (a specialist's own case decision)
    op.add_column(
        "proposals",
        sa.Column("origin", sa.String(length=16), nullable=False, server_default="automated"),
    )
    with op.batch_alter_table("ops_appeals") as batch:
        batch.add_column(sa.Column("case_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("proposal_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("pod", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("grounds", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sla_due_at", TS, nullable=True))
        batch.add_column(sa.Column("original_decider", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("vendor_team", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ops_appeals") as batch:
        for column in (
            "vendor_team",
            "original_decider",
            "sla_due_at",
            "grounds",
            "pod",
            "proposal_id",
            "case_id",
        ):
            batch.drop_column(column)
    op.drop_column("proposals", "origin")
    op.drop_table("account_restrictions")
    op.drop_table("case_work")
