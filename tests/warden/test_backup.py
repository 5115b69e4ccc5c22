"""`warden backup` / `warden restore` round-trip the store, the checkpoints and the index."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.openai_server import OpenAIStandIn
from warden.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def settings_for(home: Path, endpoint: OpenAIStandIn, **changes: Any) -> Any:
    from warden.settings import Settings

    values: dict[str, Any] = {
        "WARDEN_HOME": home,
        "WARDEN_POLICIES_DIRS": [REPO / "knowledge" / "policies"],
        "WARDEN_DATABASE_URL": None,
        "WARDEN_CHROMA_URL": None,
        "WARDEN_EMBEDDINGS_URL": endpoint.base_url,
        "WARDEN_EMBEDDINGS_MODEL": "hash-16",
    }
    return Settings(**{**values, **changes})


def case_ids(store: Any) -> list[tuple[str, str]]:
    return sorted((c.id, str(c.status)) for c in store.list_cases(limit=1000))


def test_sqlite_store_checkpoints_and_index_round_trip(tmp_path: Path, catalogue: Any) -> None:
    from knowledge.doctor import knowledge_checks
    from knowledge.index import ingest
    from tools.cases import load_sample
    from tools.store import build_store
    from warden.backup import backup, restore

    with OpenAIStandIn() as endpoint:
        settings = settings_for(tmp_path / "home", endpoint)
        ingest(settings.policies_dirs, settings=settings)
        store = build_store(settings)
        load_sample(store, catalogue)
        cases = case_ids(store)
        settings.checkpoint_path.write_bytes(b"")  # an (empty) SQLite checkpoint database
        manifest = backup(settings, tmp_path / "backup")
        assert manifest["parts"] == [
            "store.sqlite",
            "checkpoints.sqlite",
            "index/chroma",
            "index/lexical",
        ]
        with pytest.raises(InputError, match="already exists"):
            backup(settings, tmp_path / "backup")

        # Change the store after the backup, then lose the index folder.
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE cases SET status = 'closed'"))
        store.close()
        shutil.rmtree(settings.chroma_path)
        with pytest.raises(InputError, match="--force"):
            restore(settings, tmp_path / "backup")

        restore(settings, tmp_path / "backup", force=True)
        # `warden restore` runs in its own process; this one still caches the old Chroma client.
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        again = build_store(settings)
        assert case_ids(again) == cases
        again.close()
        checks = knowledge_checks(settings)
        assert [c.name for c in checks if c.failed] == []
        assert any(c.name == "index.current" for c in checks)

        # A fresh machine (nothing there yet) restores without --force.
        fresh = settings_for(tmp_path / "fresh", endpoint)
        restore(fresh, tmp_path / "backup")
        copy = build_store(fresh)
        assert case_ids(copy) == cases
        copy.close()


def test_postgres_store_round_trips_with_pg_dump(
    tmp_path: Path, catalogue: Any, pg_url: str
) -> None:
    from tools.cases import load_sample
    from tools.store import Store
    from warden.backup import backup, restore

    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    with OpenAIStandIn() as endpoint:
        settings = settings_for(tmp_path / "home", endpoint, WARDEN_DATABASE_URL=pg_url)
        store = Store.open(pg_url)
        load_sample(store, catalogue)
        cases = case_ids(store)
        manifest = backup(settings, tmp_path / "backup")
        assert manifest["database"] == "postgresql" and "store.pgdump" in manifest["parts"]
        store.close()
        engine = create_engine(pg_url)
        with engine.begin() as conn:  # lose every table
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        restore(settings, tmp_path / "backup")
        again = Store.open(pg_url)
        assert case_ids(again) == cases
        again.close()


def test_a_backup_of_another_database_kind_is_refused(tmp_path: Path) -> None:
    from warden.backup import restore

    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        '{"format": 1, "database": "postgresql", "parts": ["store.pgdump"], "created_at": "x"}'
    )
    with OpenAIStandIn() as endpoint:
        with pytest.raises(InputError, match="postgresql store"):
            restore(settings_for(tmp_path / "home", endpoint), folder)
        with pytest.raises(InputError, match="not a Warden backup"):
            restore(settings_for(tmp_path / "home", endpoint), tmp_path)


def test_the_commands_back_up_and_refuse_to_overwrite_without_force(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tools.store import build_store

    with OpenAIStandIn() as endpoint:
        settings = settings_for(tmp_path / "home", endpoint)
        build_store(settings).close()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "WARDEN_HOME": str(tmp_path / "home"),
    }

    def warden(*args: str) -> subprocess.CompletedProcess[str]:
        code = "from warden.cli import main; main()"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = warden("backup", str(tmp_path / "b1"))
    assert made.returncode == 0, made.stderr
    assert "backup written to" in made.stdout and "store.sqlite" in made.stdout
    refused = warden("restore", str(tmp_path / "b1"))
    assert refused.returncode == 2 and "--force" in refused.stderr
    done = warden("restore", str(tmp_path / "b1"), "--force")
    assert done.returncode == 0 and "run `warden doctor`" in done.stdout
