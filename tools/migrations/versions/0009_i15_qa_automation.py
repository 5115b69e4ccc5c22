"""qa samples: the automation path of the sampled decision (bulk, auto-proposal, specialist)

Revision ID: i15b
Revises: i15a
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i15b"
down_revision = "i15a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ops_qa_samples", sa.Column("automation", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ops_qa_samples") as batch:
        batch.drop_column("automation")
