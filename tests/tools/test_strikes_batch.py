"""`apply_strikes` (the fanout's batched path) gives what `apply_strike` per item gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from knowledge.catalogue import Catalogue
from tests.tools.helpers import NOW
from tests.tools.test_strikes import seed, strike
from tools.audit import EventSpec
from tools.store import Store
from tools.strikes import StrikeOutcome, apply_strike, apply_strikes
from tools.tables import AccountRow, StrikeRow


def _items() -> list[tuple[Any, str]]:
    return [
        (strike("acct-two"), "p:acct-two:1"),  # 2 -> 3: crosses the suspend threshold
        (strike("acct-clean"), "p:acct-clean:1"),
        (strike("acct-two"), "p:acct-two:1"),  # the same key again: a replay, adds nothing
        (strike("acct-two"), "p:acct-two:2"),  # 3 -> 4: already suspended, no second event
        (strike("acct-clean"), "p:acct-clean:2"),
        (strike("acct-new"), "p:acct-new:1"),  # no account row yet
        (strike("acct-two"), "seed:acct-two:0"),  # struck before this batch
    ]


def _prepare(store: Store) -> None:
    seed(store, "acct-two", days_ago=[60, 10])
    seed(store, "acct-clean", days_ago=[])


def _comparable(outcome: StrikeOutcome, events: list[EventSpec]) -> dict[str, Any]:
    def event(e: EventSpec) -> dict[str, Any]:
        return e.model_dump(exclude={"details"}) | {
            "details": {
                k: v
                for k, v in e.details.items()
                if k not in {"strike_id", "restriction_id", "statement_id"}
            }
        }

    strike_ = outcome.strike
    return {
        "created": outcome.created,
        "suspended": outcome.suspended,
        "effect": outcome.effect.model_dump(),
        "strike": None if strike_ is None else strike_.model_dump(exclude={"id"}),
        "events": [event(e) for e in events],
    }


def _state(store: Store) -> tuple[dict[str, str], int]:
    with store.session() as s:
        statuses = {a: st for a, st in s.execute(select(AccountRow.id, AccountRow.status))}
        count = s.scalar(select(func.count()).select_from(StrikeRow)) or 0
    return statuses, count


def test_batch_matches_one_by_one(store: Store, catalogue: Catalogue, tmp_path: Path) -> None:
    reference = Store.open(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        _prepare(store)
        _prepare(reference)
        expected = []
        for action, key in _items():
            deferred: list[EventSpec] = []
            with reference.session() as s:
                outcome = apply_strike(
                    reference,
                    catalogue,
                    action,
                    action_key=key,
                    actor="t",
                    now=NOW,
                    session=s,
                    defer_audit=deferred,
                )
            expected.append(_comparable(outcome, deferred))
        with store.session() as s:
            got = apply_strikes(store, catalogue, _items(), actor="t", now=NOW, session=s)
        assert [_comparable(o, e) for o, e in got] == expected
        assert _state(store) == _state(reference)
        suspended = [o.effect.account_id for o, _e in got if o.suspended]
        assert suspended == ["acct-two"]
        assert _state(store)[0]["acct-two"] == "suspended"
    finally:
        reference.close()


def test_batch_is_idempotent(store: Store, catalogue: Catalogue) -> None:
    _prepare(store)
    first = apply_strikes(store, catalogue, _items(), now=NOW)
    after_first = _state(store)
    again = apply_strikes(store, catalogue, _items(), now=NOW)
    assert _state(store) == after_first
    assert not any(o.created for o, _e in again)
    assert all(events == [] for _o, events in again)
    created = {o.strike.id for o, _e in first if o.created and o.strike}
    replayed = {o.strike.id for o, _e in again if o.strike}
    assert created <= replayed
