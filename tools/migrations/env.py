"""Alembic environment: migrations run programmatically from `tools.store.run_migrations`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

import tools.tables  # noqa: F401  (registers the store's tables on Base.metadata)
from tools.db import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through tools.store.run_migrations(engine)")
    # One transaction for the whole upgrade on every database (SQLite included, which alembic
    # would otherwise run statement by statement): a crash or a concurrent starter sees all or none.
    context.configure(
        connection=connection, target_metadata=target_metadata, transactional_ddl=True
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several workers may start at once; one migrates, the others wait and find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(7270001)"))
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
