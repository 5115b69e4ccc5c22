"""Fixtures for the ops tests: a store with the ops tables, and a scripted recommender."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from agent.interface import Recommendation
from knowledge.vocabulary import ActionType
from tools.models import Case
from tools.store import Store


def _open(url: str) -> Store:
    opened = Store.open(url)
    assert inspect(opened.engine).has_table("ops_eval_runs"), "migration 0003 did not run"
    return opened


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store, once on SQLite and once on Postgres (gates, QA, KPIs, migration)."""
    opened = _open(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_ops_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store, for tests whose SQL is already covered on both engines."""
    opened = _open(f"sqlite:///{tmp_path / 'ops.db'}")
    try:
        yield opened
    finally:
        opened.close()


def keyword_recommender(
    rules: dict[str, str], *, escalate_word: str = "@@escalate", abstain_word: str = "@@unsure"
) -> Callable[[Case], Recommendation]:
    """A fake recommendation path: the first keyword found in the text picks the policy."""

    def recommend(case: Case) -> Recommendation:
        text = (case.items[0].text or "").lower()
        base = dict(
            case_id=case.id,
            policy_version="1",
            section_ids=[],
            severity=None,
            confidence=0.4,
            rationale="keyword rule",
            citations=[],
            mode="rules",
        )
        if escalate_word in text:
            return Recommendation(
                policy_id=None, verdict="borderline", action=None, escalate=True, **base
            )
        if abstain_word in text:
            return Recommendation(policy_id=None, verdict="borderline", action=None, **base)
        for word, policy in rules.items():
            if word in text:
                return Recommendation(
                    policy_id=policy, verdict="violating", action=ActionType.REMOVE, **base
                )
        return Recommendation(policy_id=None, verdict="not_violating", action=None, **base)

    return recommend
