"""Migrations, case import (both modes, line numbers, nothing lost) and reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from tests.tools.helpers import case_line, two_author_case
from tools.cases import import_cases, import_file
from tools.store import Store, run_migrations
from warden.errors import InputError, NotFoundError


def test_migrations_create_schema_and_rerun_idempotently(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert {"cases", "content", "accounts", "strikes", "proposals", "approvals"} <= tables
        assert {"escalations", "audit_events", "statements_of_reasons"} <= tables
        run_migrations(store.engine)  # again: no error, nothing changes
        again = Store.open(db_url)
        again.close()
        assert set(inspect(store.engine).get_table_names()) == tables
    finally:
        store.close()


def test_import_good_lines_and_show(store: Store) -> None:
    report = import_cases(store, [two_author_case("case-1"), "   "])  # blank lines are skipped
    assert report.imported == 1
    case = store.get_case("case-1")
    assert case.content_ids == ["pin-1", "pin-2"]
    assert case.account_ids == ["acct-a", "acct-b"]
    assert case.signals == {"hate": 0.93}
    assert store.get_account("acct-a").handle == "acct-a"
    # importing the same case again is a no-op, not a duplicate
    again = import_cases(store, [two_author_case("case-1")])
    assert (again.imported, again.unchanged) == (0, 1)


def test_show_unknown_case_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.get_case("nope")


BAD_LINES = [
    case_line("ok-1", [("c-1", "u-1", "fine")]),
    "{not json",
    json.dumps({"id": "no-items", "opened_at": "2026-11-19T09:00:00Z", "items": []}),
    case_line("ok-2", [("c-2", "u-2", "fine too")]),
    case_line("ok-1", [("c-3", "u-3", "duplicate id")]),
]


def test_all_or_nothing_stores_nothing_and_names_lines(store: Store) -> None:
    import_cases(store, [case_line("before", [("c-0", "u-0", "kept")])])
    with pytest.raises(InputError) as err:
        import_cases(store, BAD_LINES)
    message = str(err.value)
    assert "line 2" in message and "line 3" in message and "line 5" in message
    assert "line 1:" not in message and "line 4" not in message
    for case_id in ("ok-1", "ok-2"):
        with pytest.raises(NotFoundError):
            store.get_case(case_id)
    assert store.get_case("before").content_ids == ["c-0"]  # nothing stored was lost


def test_keep_valid_stores_good_lines_and_reports_bad(store: Store) -> None:
    report = import_cases(store, BAD_LINES, mode="keep-valid")
    assert report.imported == 2
    assert [e.line for e in report.errors] == [2, 3, 5]
    assert store.get_case("ok-2").content_ids == ["c-2"]


def test_conflicting_case_is_refused_not_overwritten(store: Store) -> None:
    import_cases(store, [case_line("case-x", [("c-x", "u-x", "original")])])
    changed = case_line("case-x", [("c-x", "u-x", "rewritten")])
    with pytest.raises(InputError, match="line 1"):
        import_cases(store, [changed])
    report = import_cases(
        store, [changed, case_line("case-y", [("c-y", "u-y", "new")])], mode="keep-valid"
    )
    assert report.imported == 1 and [e.line for e in report.errors] == [1]
    assert store.get_case("case-x").items[0].text == "original"


def test_import_file_reports_unreadable_path(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot read"):
        import_file(store, tmp_path / "missing.jsonl")


def test_concurrent_first_open_migrates_once(db_url: str) -> None:
    """Several workers starting at once on an empty database all end up with one schema."""
    import threading

    errors: list[BaseException] = []
    opened: list[Store] = []

    def start() -> None:
        try:
            opened.append(Store.open(db_url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == [] and len(opened) == 3
        import_cases(opened[0], [two_author_case("case-1")])
        assert opened[2].get_case("case-1").id == "case-1"
    finally:
        for s in opened:
            s.close()


def test_two_stores_on_one_engine_share_transactions_safely(tmp_path: Path) -> None:
    from tools.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    first, second = Store(engine), Store(engine)
    run_migrations(engine)
    import_cases(first, [two_author_case("case-1")])
    assert second.get_case("case-1").content_ids == ["pin-1", "pin-2"]
    engine.dispose()


def _open_in_child(url: str, out: Any) -> None:
    try:
        Store.open(url).close()
        out.put("ok")
    except BaseException as exc:  # reported to the parent
        out.put(repr(exc))


def test_concurrent_first_open_from_processes(db_url: str) -> None:
    """Worker processes starting together on an empty database: one migrates, all succeed."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_open_in_child, args=(db_url, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["ok", "ok", "ok"]
    store = Store.open(db_url)
    try:
        import_cases(store, [two_author_case("case-1")])
    finally:
        store.close()
