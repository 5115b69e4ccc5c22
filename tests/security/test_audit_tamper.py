"""8 / finding 15. Audit: UPDATE and DELETE attempts on audit rows, one-byte tampering of every
field, a chain rewritten with recomputed hashes, forged checkpoints.

Pass: detected every time, either refused by the database (the append-only triggers on Postgres
and SQLite) or reported by `tools.audit.verify` at the changed row, or by
`tools.audit_anchor.verify_anchored` against the signed head checkpoints kept outside it.
"""

from __future__ import annotations

import random
import string
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.security.conftest import APPROVERS, Figures, pending_proposal, scale
from tools import audit
from tools.tables import AuditRow

TEXT_FIELDS = [
    "actor", "verb", "subject", "source", "outcome", "details", "prev_hash", "hash",
    "policy_id", "section_id", "policy_version", "proposal_hash", "model", "prompt_id",
]  # fmt: skip


def _fill(store: Any, catalogue: Any) -> int:
    """Real events: proposals created, refused, approved and rejected, plus recorded events."""
    from tools import proposals

    for i in range(3):
        p = pending_proposal(store, catalogue, n=2)
        proposals.approve(store, p.id, "UOUTSIDER", p.action_hash, approvers=set(APPROVERS))
        if i % 2:
            proposals.reject(store, p.id, APPROVERS[0], approvers=set(APPROVERS), reason="no")
        else:
            proposals.approve(store, p.id, APPROVERS[0], p.action_hash, approvers=set(APPROVERS))
    audit.record(store, actor="warden", verb="test.note", subject="case:é", model="m-1",
                 prompt_id="p-1", details={"note": "ünïcode ✓", "n": 1})  # fmt: skip
    return audit.verify(store).events


def _unguarded(store: Any) -> Any:
    """A connection that can change audit rows (the append-only triggers off)."""
    from tests.fixtures.audit_guard import unguarded

    return unguarded(store)


def _one_byte(value: str, rng: random.Random) -> str:
    i = rng.randrange(len(value))
    pool = string.hexdigits.lower() if all(c in string.hexdigits for c in value) else (
        string.ascii_letters + string.digits + "{}\":,é"
    )  # fmt: skip
    new = rng.choice([c for c in pool if c != value[i]])
    return value[:i] + new + value[i + 1 :]


def test_one_byte_tampering_of_any_field_is_detected(
    store: Any, catalogue: Any, figures: Figures
) -> None:
    rng = random.Random(5)
    events = _fill(store, catalogue)
    with store.session() as s:
        rows = {r.seq: {f: getattr(r, f) for f in [*TEXT_FIELDS, "at"]} for r in s.query(AuditRow)}
    tries = scale(60, 600)
    for _ in range(tries):
        seq = rng.randrange(1, events + 1)
        original = rows[seq]
        candidates = [f for f in [*TEXT_FIELDS, "at"] if original[f]]
        field = rng.choice(candidates)
        if field == "at":
            changed: Any = original["at"] + timedelta(microseconds=rng.choice([-1, 1, 1000]))
        else:
            changed = _one_byte(str(original[field]), rng)
        with _unguarded(store) as conn:
            conn.execute(
                text(f"UPDATE audit_events SET {field} = :v WHERE seq = :s"),
                {"v": changed, "s": seq},
            )
        report = audit.verify(store)
        figures.tried += 1
        if not report.ok and report.first_broken_seq in (seq, seq + 1):
            figures.rejected += 1
        else:
            figures.accepted += 1
            figures.note(f"undetected: seq {seq} {field} -> {changed!r}: {report}"[:300])
        with _unguarded(store) as conn:
            conn.execute(
                text(f"UPDATE audit_events SET {field} = :v WHERE seq = :s"),
                {"v": original[field], "s": seq},
            )
        assert audit.verify(store).ok, "restoring the original value must verify again"
    assert figures.accepted == 0


def test_update_and_delete_attempts_are_refused_or_detected(
    store: Any, catalogue: Any, figures: Figures
) -> None:
    events = _fill(store, catalogue)
    attempts = [
        "UPDATE audit_events SET outcome = 'approved' WHERE verb = 'proposal.approve'",
        "UPDATE audit_events SET actor = 'UAPPROVER2' WHERE seq = 3",
        "UPDATE audit_events SET details = '{}' WHERE seq = 2",
        f"DELETE FROM audit_events WHERE seq = {events // 2}",
        f"DELETE FROM audit_events WHERE seq = {events}",
        "DELETE FROM audit_events WHERE outcome = 'refused'",
        f"UPDATE audit_head SET seq = {events - 1}",
    ]
    for sql in attempts:
        figures.tried += 1
        # First as the application's database user would: on Postgres the trigger refuses.
        refused = False
        try:
            with store.engine.begin() as conn:
                conn.execute(text(sql))
        except DBAPIError:
            refused = True
            assert audit.verify(store).ok
            # Then with the trigger off (an attacker with owner rights): verify must catch it.
            with _unguarded(store) as conn:
                conn.execute(text(sql))
        report = audit.verify(store)
        if report.ok:
            figures.accepted += 1
            figures.note(f"undetected: {sql}")
        else:
            figures.rejected += 1
        if refused:
            figures.note(f"refused by the database first: {sql[:60]}")
        # Start each attempt from an intact chain.
        with _unguarded(store) as conn:
            conn.execute(text("DELETE FROM audit_events"))
            conn.execute(text("DELETE FROM audit_head"))
        events = _fill(store, catalogue)
    assert figures.accepted == 0


AUDIT_KEY = "h14-audit-anchor-key-5d0c9e2b7a41"


def _rewrite(store: Any, seq: int) -> None:
    """Change one event and recompute every later hash and the head: the chain verifies."""
    with _unguarded(store) as conn:
        rows = conn.execute(text("SELECT * FROM audit_events ORDER BY seq")).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            values = dict(row)
            if values["seq"] == seq:
                values["actor"] = "UFORGED"
            values["prev_hash"] = prev
            fields = {k: values[k] for k in values if k not in ("id", "hash")}
            if isinstance(fields["at"], str):
                from datetime import datetime

                fields["at"] = datetime.fromisoformat(fields["at"])
            values["hash"] = prev = audit.event_hash(**fields)
            conn.execute(
                text(
                    "UPDATE audit_events SET actor = :actor, prev_hash = :prev_hash, hash = :hash "
                    "WHERE seq = :seq"
                ),
                values,
            )
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


# Regression: a rewritten chain with recomputed hashes verified as intact (no anchor outside the
# database); fixed by signed head checkpoints (tools/audit_anchor.py).
def test_a_rewritten_chain_is_detected(
    store: Any, catalogue: Any, figures: Figures, tmp_path: Any
) -> None:
    from tools.audit_anchor import anchor, verify_anchored

    anchors = tmp_path / "anchors.jsonl"
    _fill(store, catalogue)
    anchor(store, AUDIT_KEY, anchors)
    _fill(store, catalogue)  # more events after the checkpoint
    anchor(store, AUDIT_KEY, anchors)
    assert verify_anchored(store, AUDIT_KEY, anchors).anchored == 2
    _rewrite(store, 2)
    figures.tried = 1
    assert audit.verify(store).ok, "the rewrite recomputed every hash: the chain alone is fooled"
    report = verify_anchored(store, AUDIT_KEY, anchors)
    figures.accepted = int(report.ok)
    figures.rejected = int(not report.ok)
    assert not report.ok and "rewritten" in (report.problem or ""), report


def test_forged_checkpoints_and_a_truncated_anchored_chain_are_detected(
    sqlite_store: Any, catalogue: Any, figures: Figures, tmp_path: Any
) -> None:
    from tools.audit_anchor import Checkpoint, anchor, checkpoint, verify_anchored

    store = sqlite_store
    anchors = tmp_path / "anchors.jsonl"
    _fill(store, catalogue)
    anchor(store, AUDIT_KEY, anchors)
    good = anchors.read_text()
    attempts: dict[str, Any] = {}
    # A checkpoint signed with another key, appended after rewriting the chain.
    _rewrite(store, 3)
    forged = checkpoint(store, "someone-elses-key-0000000000")
    anchors.write_text(good + forged.model_dump_json() + "\n")
    attempts["checkpoint signed with another key"] = verify_anchored(store, AUDIT_KEY, anchors)
    # The genuine checkpoint edited to the rewritten head.
    edited = Checkpoint.model_validate_json(good).model_copy(update={"hash": forged.hash})
    anchors.write_text(edited.model_dump_json() + "\n")
    attempts["checkpoint edited to the new head"] = verify_anchored(store, AUDIT_KEY, anchors)
    # The newest events deleted, head moved back, after the checkpoint.
    anchors.write_text(good)
    with _unguarded(store) as conn:
        conn.execute(text("DELETE FROM audit_events"))
        conn.execute(text("DELETE FROM audit_head"))
    _fill(store, catalogue)
    with _unguarded(store) as conn:
        top = conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": top // 2})
        prev = conn.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": top // 2}
        ).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": top // 2, "h": prev})
    attempts["chain cut back below a checkpoint"] = verify_anchored(store, AUDIT_KEY, anchors)
    for name, report in attempts.items():
        figures.tried += 1
        if report.ok:
            figures.accepted += 1
            figures.note(f"undetected: {name}")
        else:
            figures.rejected += 1
    assert figures.accepted == 0, figures.notes


def test_sqlite_refuses_update_and_delete_of_audit_rows(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    _fill(sqlite_store, catalogue)
    for sql in (
        "UPDATE audit_events SET actor = 'UFORGED' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "DELETE FROM audit_events",
    ):
        figures.tried += 1
        try:
            with sqlite_store.engine.begin() as conn:
                conn.execute(text(sql))
        except DBAPIError as exc:
            assert "append-only" in str(exc)
            figures.rejected += 1
        else:
            figures.accepted += 1
    assert figures.accepted == 0 and audit.verify(sqlite_store).ok
