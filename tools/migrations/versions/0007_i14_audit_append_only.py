"""audit log append-only on SQLite too: triggers refuse UPDATE and DELETE of audit_events

Revision ID: i14a
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "i14a"
down_revision = "i11a"
branch_labels = None
depends_on = None

_REFUSE = "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"


def upgrade() -> None:
    # Postgres has had its trigger since 0001; SQLite's equivalent is a pair of triggers.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events {_REFUSE}")
        op.execute(f"CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events {_REFUSE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
