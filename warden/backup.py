"""`warden backup` / `warden restore`: the store, the agent's checkpoints and the policy index.

A backup is a folder:

    manifest.json        what is inside, when, from which database kind
    store.sqlite         SQLite store, copied with SQLite's online backup API (consistent while
                         Warden runs: the API copies a snapshot page by page)
    store.pgdump         or, on Postgres, `pg_dump --format=custom` (store, ledger, audit and
                         the agent's checkpoints, which live in the same database)
    checkpoints.sqlite   SQLite checkpoints (paused proposals), same API
    index/chroma/        the embedded Chroma folder and the lexical side index (index/lexical/);
    index/lexical/       absent with a Chroma server: the index is derived from the policy
                         folders, so `warden ingest` rebuilds it

Restore puts each part back where the current settings say it lives. It refuses to overwrite
existing data unless told to (`--force`); stop `warden serve` and the workers first.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warden.errors import ConfigError, InputError

if TYPE_CHECKING:
    from warden.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API (never a torn file copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection flags for pg_dump / pg_restore; the password goes in the environment."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args = ["--dbname", str(parsed.database or "")]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise ConfigError(
            f"{tool} is not installed; install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client) matching the server's version."
        )
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"{what} failed: {done.stderr.strip()[:500]}")


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres://"))


def backup(settings: Settings, target: Path) -> dict[str, Any]:
    """Write a backup folder at `target` (which must not exist yet); return its manifest."""
    if target.exists():
        raise InputError(f"{target} already exists; give a new folder for the backup.")
    url = settings.db_url
    target.mkdir(parents=True)
    parts: list[str] = []
    if _is_postgres(url):
        args, env = _pg_args(url)
        dump = target / "store.pgdump"
        _run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", str(dump), *args], env, "pg_dump"
        )
        parts.append(dump.name)
    else:
        source = _sqlite_path(url)
        if not source.exists():
            raise InputError(f"No store at {source}; nothing to back up.")
        _copy_sqlite(source, target / "store.sqlite")
        parts.append("store.sqlite")
        if settings.checkpoint_path.exists():
            _copy_sqlite(settings.checkpoint_path, target / "checkpoints.sqlite")
            parts.append("checkpoints.sqlite")
    index_note = None
    if settings.chroma_url:
        index_note = f"index on the Chroma server {settings.chroma_url}: rebuild with warden ingest"
    else:
        for name, folder in (
            ("chroma", settings.chroma_path),
            ("lexical", settings.home / "lexical"),
        ):
            if folder.exists():
                shutil.copytree(folder, target / "index" / name)
                parts.append(f"index/{name}")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql" if _is_postgres(url) else "sqlite",
        "collection": settings.collection,
        "parts": parts,
    }
    if index_note:
        manifest["index_note"] = index_note
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{source} is not a Warden backup (no readable {MANIFEST}): {exc}"
        ) from exc
    if manifest.get("format") != FORMAT:
        raise InputError(f"{source} has backup format {manifest.get('format')}, not {FORMAT}.")
    return manifest


def restore(settings: Settings, source: Path, *, force: bool = False) -> dict[str, Any]:
    """Put a backup's store, checkpoints and index back where the settings say they live."""
    manifest = _read_manifest(source)
    url = settings.db_url
    kind = "postgresql" if _is_postgres(url) else "sqlite"
    if manifest["database"] != kind:
        raise InputError(
            f"The backup holds a {manifest['database']} store but WARDEN_DATABASE_URL is "
            f"{kind}; restore into the same kind of database (or migrate by hand)."
        )
    parts: list[str] = list(manifest["parts"])
    existing = []
    if kind == "sqlite" and _sqlite_path(url).exists():
        existing.append(str(_sqlite_path(url)))
    index_targets = {"chroma": settings.chroma_path, "lexical": settings.home / "lexical"}
    for name, folder in index_targets.items():
        if f"index/{name}" in parts and folder.exists():
            existing.append(str(folder))
    if existing and not force:
        raise InputError(
            "Restoring would overwrite " + ", ".join(existing) + "; stop Warden and run again "
            "with --force to replace them."
        )
    if kind == "postgresql":
        args, env = _pg_args(url)
        dump = source / "store.pgdump"
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *args,
                str(dump),
            ],
            env,
            "pg_restore",
        )
    else:
        _copy_sqlite(source / "store.sqlite", _sqlite_path(url))
        if "checkpoints.sqlite" in parts:
            _copy_sqlite(source / "checkpoints.sqlite", settings.checkpoint_path)
    for name, folder in index_targets.items():
        if f"index/{name}" in parts:
            if folder.exists():
                shutil.rmtree(folder)
            shutil.copytree(source / "index" / name, folder)
    return manifest
