"""Checkpointers: SQLite in the data folder by default, Postgres when the database URL says so.

A conversation is a checkpoint thread; a proposal paused at its approval interrupt lives in the
checkpoint, so it survives a restart of the process.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from warden.settings import Settings


class Checkpoints(AbstractContextManager["Checkpoints"]):
    """A checkpointer plus the connection (or pool) it owns, closed together."""

    def __init__(self, saver: BaseCheckpointSaver[Any], closer: Any) -> None:
        self.saver = saver
        self._closer = closer

    def close(self) -> None:
        self._closer.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


def sqlite_checkpoints(path: str) -> Checkpoints:
    """SQLite checkpoints in one file (WAL, so a second process can read while one writes)."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return Checkpoints(saver, conn)


def postgres_checkpoints(url: str) -> Checkpoints:
    """Postgres checkpoints over a small connection pool (tables created on first use)."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=8,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
    )
    saver = PostgresSaver(pool)
    saver.setup()
    return Checkpoints(saver, pool)


def build_checkpoints(settings: Settings) -> Checkpoints:
    """Postgres when `settings.database_url` is Postgres, else SQLite under the data folder."""
    url = settings.database_url or ""
    if url.startswith(("postgresql", "postgres://")):
        return postgres_checkpoints(url.replace("postgres://", "postgresql://", 1))
    settings.ensure_home()
    return sqlite_checkpoints(str(settings.checkpoint_path))
