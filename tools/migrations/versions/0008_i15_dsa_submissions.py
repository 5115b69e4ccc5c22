"""dsa submissions: what the EU Transparency Database accepted (owned by tools/dsa_tables.py)

Revision ID: i15a
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i15a"
down_revision = "i14a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dsa_submissions",
        sa.Column("puid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=True),
        sa.Column("errors", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("puid", name=op.f("pk_dsa_submissions")),
    )
    op.create_index(op.f("ix_dsa_submissions_status"), "dsa_submissions", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dsa_submissions_status"), table_name="dsa_submissions")
    op.drop_table("dsa_submissions")
