"""Strikes: preview before acting, apply idempotently, windows and expiry, overturn on appeal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType, RestrictionType
from tests.tools.helpers import NOW
from tools import audit
from tools.cases import ensure_account
from tools.models import PlannedAction
from tools.store import Store
from tools.strikes import apply_strike, overturn, preview, standing
from tools.tables import AuditRow, StrikeRow
from warden.errors import InputError, NotFoundError


def strike(account: str, section: str = "HA-2.2") -> PlannedAction:
    return PlannedAction(
        target_type="account", target_id=account, action=ActionType.STRIKE, section_id=section
    )


def seed(store: Store, account: str, *, days_ago: list[int], policy: str = "HA") -> None:
    """Give an account past strikes (weight 1) issued `days_ago` before NOW."""
    with store.session() as s:
        ensure_account(s, account)
        for n, days in enumerate(days_ago):
            issued = NOW - timedelta(days=days)
            s.add(
                StrikeRow(
                    id=f"seed-{account}-{n}",
                    account_id=account,
                    policy_id=policy,
                    section_id=f"{policy}-2.2",
                    weight=1,
                    issued_at=issued,
                    expires_at=issued + timedelta(days=90),
                    source_action_key=f"seed:{account}:{n}",
                    overturned=False,
                )
            )


def test_third_strike_in_window_previews_suspension(store: Store, catalogue: Catalogue) -> None:
    rules = catalogue.strike_policy("HA")
    assert rules.thresholds[3].restriction == RestrictionType.SUSPEND and rules.window_days == 90
    seed(store, "acct-two", days_ago=[60, 10])
    seed(store, "acct-clean", days_ago=[])
    effects = {
        e.account_id: e
        for e in preview(store, catalogue, [strike("acct-two"), strike("acct-clean")], NOW)
    }
    assert (effects["acct-two"].active_before, effects["acct-two"].active_after) == (2, 3)
    assert effects["acct-two"].threshold_crossed == RestrictionType.SUSPEND
    assert effects["acct-clean"].threshold_crossed is None
    # content actions add no strikes, so they do not appear
    remove = PlannedAction(
        target_type="content", target_id="x", action=ActionType.REMOVE, section_id="HA-2.2"
    )
    assert preview(store, catalogue, [remove], NOW) == []


def test_strikes_outside_the_window_or_expired_are_ignored(
    store: Store, catalogue: Catalogue
) -> None:
    seed(store, "acct-old", days_ago=[120, 95, 10])  # two fell out of the 90-day window
    (effect,) = preview(store, catalogue, [strike("acct-old")], NOW)
    assert (effect.active_before, effect.active_after) == (1, 2)
    assert effect.threshold_crossed == catalogue.strike_policy("HA").thresholds[2].restriction


def test_weighted_section_counts_its_weight(store: Store, catalogue: Catalogue) -> None:
    weight = catalogue.section("HA-2.5").strike_weight(ActionType.STRIKE)
    assert weight == 3
    (effect,) = preview(store, catalogue, [strike("acct-w", "HA-2.5")], NOW)
    assert effect.added == 3 and effect.threshold_crossed == RestrictionType.SUSPEND


def test_apply_is_idempotent_and_suspends_at_threshold(store: Store, catalogue: Catalogue) -> None:
    seed(store, "acct-two", days_ago=[60, 10])
    first = apply_strike(
        store, catalogue, strike("acct-two"), action_key="prop-1:acct-two", now=NOW
    )
    assert first.created and first.suspended
    assert first.effect.threshold_crossed == RestrictionType.SUSPEND
    again = apply_strike(
        store, catalogue, strike("acct-two"), action_key="prop-1:acct-two", now=NOW
    )
    assert not again.created and again.strike is not None and again.strike.id == first.strike.id  # type: ignore[union-attr]
    account = store.get_account("acct-two", now=NOW)
    assert account.status == "suspended" and len(account.strikes) == 3
    verbs = [e.verb for e in audit.events(store, subject="account:acct-two")]
    assert verbs == ["strike.applied", "account.suspended", "restriction.applied"]
    with pytest.raises(InputError):
        apply_strike(
            store,
            catalogue,
            PlannedAction(
                target_type="content", target_id="c", action=ActionType.REMOVE, section_id="HA-2.2"
            ),
            action_key="k",
            now=NOW,
        )


def test_overturn_removes_strike_reinstates_and_is_audited(
    store: Store, catalogue: Catalogue
) -> None:
    seed(store, "acct-two", days_ago=[60, 10])
    apply_strike(store, catalogue, strike("acct-two"), action_key="prop-9:acct-two", now=NOW)
    later = NOW + timedelta(hours=1)
    overturned = overturn(
        store,
        catalogue,
        action_key="prop-9:acct-two",
        actor="U_APPEALS",
        reason="context showed satire",
        now=later,
    )
    assert overturned.overturned
    assert store.get_account("acct-two").status == "active"
    (effect,) = preview(store, catalogue, [strike("acct-two")], later)
    assert effect.active_before == 2  # the overturned strike no longer counts
    events = audit.events(store, subject="account:acct-two")
    assert [e.verb for e in events][-3:] == [
        "strike.overturned",
        "restriction.lifted",
        "account.reinstated",
    ]
    assert (
        events[-2].actor == "U_APPEALS" and events[-2].details["reason"] == "context showed satire"
    )
    with pytest.raises(InputError, match="already overturned"):
        overturn(store, catalogue, strike_id=overturned.id, actor="U_APPEALS", reason="again")
    with pytest.raises(NotFoundError):
        overturn(store, catalogue, action_key="nope", actor="U", reason="r")
    assert any("HA: 2 active" in line for line in standing(store, catalogue, "acct-two", now=later))
    assert audit.verify(store).ok


def test_deferred_audit_hands_events_to_the_caller(store: Store, catalogue: Catalogue) -> None:
    seed(store, "acct-two", days_ago=[60, 10])
    deferred: list[audit.EventSpec] = []
    with store.session() as s:
        outcome = apply_strike(
            store, catalogue, strike("acct-two"), action_key="k-1", now=NOW, session=s,
            defer_audit=deferred,
        )  # fmt: skip
        # nothing was appended by apply_strike itself: the caller appends, last
        assert s.scalar(select(func.count()).select_from(AuditRow)) == 0
        audit.append_many(s, deferred)
    assert outcome.suspended
    assert [e.verb for e in deferred] == [
        "strike.applied",
        "account.suspended",
        "restriction.applied",
    ]
    assert [e.verb for e in audit.events(store)] == [e.verb for e in deferred]
