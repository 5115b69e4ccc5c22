"""proposals: `reverses`, the proposal a QA reversal proposal (origin qa) undoes

Revision ID: i15c
Revises: i17a
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i15c"
down_revision = "i17a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("proposals", sa.Column("reverses", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("reverses")
