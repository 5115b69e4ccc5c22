"""The audit chain: appends serialise, and verify catches UPDATE, DELETE and a one-byte change."""

from __future__ import annotations

import io
import json
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tools import audit
from tools.store import Store


def fill(store: Store, n: int = 6) -> None:
    for i in range(n):
        audit.record(
            store,
            actor=f"U{i}",
            verb="test.event",
            subject=f"case:{i}",
            details={"i": i, "note": "ok"},
        )


def test_chain_verifies_and_exports(store: Store) -> None:
    fill(store)
    report = audit.verify(store)
    assert report.ok and report.events == 6
    out = io.StringIO()
    assert audit.export(store, out) == 6
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_concurrent_appends_do_not_fork_the_chain(store: Store) -> None:
    def writer(w: int) -> None:
        for i in range(8):
            audit.record(store, actor=f"W{w}", verb="test.concurrent", subject=f"w{w}:{i}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    report = audit.verify(store)
    assert report.ok and report.events == 32


def _tamper(store: Store, sql: str) -> None:
    """Change rows behind the store's back (with the append-only triggers off)."""
    from tests.fixtures.audit_guard import unguarded

    with unguarded(store) as conn:
        conn.execute(text(sql))


def test_verify_detects_update(store: Store) -> None:
    fill(store)
    _tamper(store, "UPDATE audit_events SET actor = 'U_SOMEONE_ELSE' WHERE seq = 3")
    report = audit.verify(store)
    assert not report.ok and report.first_broken_seq == 3 and "changed" in (report.problem or "")


def test_verify_detects_one_byte_change_in_details(store: Store) -> None:
    fill(store)
    _tamper(
        store,
        "UPDATE audit_events SET details = REPLACE(details, '\"ok\"', '\"oK\"') WHERE seq = 4",
    )
    report = audit.verify(store)
    assert not report.ok and report.first_broken_seq == 4


def test_verify_detects_deletion_in_the_middle_and_at_the_end(store: Store) -> None:
    fill(store)
    _tamper(store, "DELETE FROM audit_events WHERE seq = 2")
    report = audit.verify(store)
    assert not report.ok and report.first_broken_seq == 2 and "deleted" in (report.problem or "")


def test_verify_detects_deleted_tail(store: Store) -> None:
    fill(store)
    _tamper(store, "DELETE FROM audit_events WHERE seq >= 5")
    report = audit.verify(store)
    assert not report.ok and report.first_broken_seq == 5


def test_triggers_refuse_update_and_delete(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        fill(store, 2)
        for sql in (
            "UPDATE audit_events SET actor = 'x' WHERE seq = 1",
            "DELETE FROM audit_events WHERE seq = 2",
        ):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(text(sql))
        assert audit.verify(store).ok
    finally:
        store.close()
