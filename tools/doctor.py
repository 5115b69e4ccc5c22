"""Doctor checks for the store: the database answers, and its schema is this release's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from warden.doctor import Check, fail, guarded, ok, warn

if TYPE_CHECKING:
    from warden.settings import Settings


def _where(url: str) -> str:
    """The database's address without credentials (the URL may hold a password)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def schema_revisions(engine: Any) -> tuple[set[str], set[str]]:
    """(revisions the database is at, revisions this release's migrations end at)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from tools.store import _alembic_config

    with engine.connect() as conn:
        heads = set(ScriptDirectory.from_config(_alembic_config(conn)).get_heads())
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.rollback()
    return current, heads


def database_check(engine: Any, url: str) -> Check:
    """The database answers a query (what /readyz asks of the store)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means specialists would get errors
        return fail(
            "database",
            f"{_where(url)} does not answer: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            "check WARDEN_DATABASE_URL and that the database server is running",
        )
    return ok("database", f"{engine.dialect.name} at {_where(url)} answers")


def migrations_check(engine: Any) -> Check:
    current, heads = schema_revisions(engine)
    if current == heads:
        return ok("migrations", f"schema current ({', '.join(sorted(heads))})")
    unknown = current - heads
    if unknown:
        # A revision these migrations do not know: a newer Warden migrated this database.
        from alembic.script import ScriptDirectory

        from tools.store import MIGRATIONS_DIR

        known = {r.revision for r in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
        if unknown - known:
            return fail(
                "migrations",
                f"database is at {', '.join(sorted(unknown))}, unknown to this release",
                "a newer Warden migrated this database: upgrade this install to that version",
            )
    at = ", ".join(sorted(current)) or "empty"
    return warn(
        "migrations",
        f"database at {at}, this release at {', '.join(sorted(heads))}",
        "migrations run when Warden starts (`warden serve`, any store command); nothing to do "
        "unless several versions share this database",
    )


def database_checks(settings: Settings) -> list[Check]:
    from tools.db import make_engine

    url = settings.db_url
    if url.startswith("sqlite:///") and not settings.database_url:
        settings.ensure_home()
    engine = make_engine(url)
    try:
        first = database_check(engine, url)
        if first.failed:
            return [first]
        return [
            first,
            *guarded(
                "migrations",
                lambda: [migrations_check(engine)],
                "run `warden cases list` once to apply them, and read the error it prints",
            ),
        ]
    finally:
        engine.dispose()
