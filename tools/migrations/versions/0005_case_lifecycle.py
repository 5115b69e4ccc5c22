"""case lifecycle: `open` cases become `new` (new -> in_review -> decided -> actioned -> closed)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE cases SET status = 'new' WHERE status = 'open'")


def downgrade() -> None:
    op.execute("UPDATE cases SET status = 'open' WHERE status = 'new'")
