"""Fixtures shared by every test package: settings in a temp home, fresh databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

PG_ADMIN_URL = os.environ.get("WARDEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    """Return why Postgres cannot be used, or None when it answers."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: skip with the reason
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


PG_SKIP_REASON = _pg_available()


def fresh_pg_database() -> tuple[str, str]:
    """Create an empty database; return (SQLAlchemy URL, name)."""
    import psycopg

    name = f"warden_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1), name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty Postgres database for one test (skipped where Postgres is absent)."""
    if PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    url, name = fresh_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run a test once on SQLite and once on a fresh Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warden.db'}"
        return
    if PG_SKIP_REASON:
        pytest.skip(PG_SKIP_REASON)
    url, name = fresh_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def warden_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder; settings read from the environment point at it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WARDEN_HOME", str(home))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "WARDEN_DATABASE_URL", "WARDEN_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)
    from warden.settings import get_settings

    get_settings.cache_clear()
    return home


pytest_plugins = ["tests.fixtures.knowledge", "tests.fixtures.store"]
