"""Statements of reasons carry every element of DSA Art. 17(3), one per action, idempotently."""

from __future__ import annotations

import io
import json

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType
from tests.tools.helpers import NOW
from tools.models import DecisionAutomation, PlannedAction
from tools.reasons import SorInput, export, get_statement, issue_statements
from tools.store import Store


def test_statement_content_and_idempotence(sample_store: Store, catalogue: Catalogue) -> None:
    remove = PlannedAction(
        target_type="content",
        target_id="hs-pin-0007",
        action=ActionType.REMOVE,
        section_id="HA-2.3",
    )
    strike = PlannedAction(
        target_type="account", target_id="acct-1011", action=ActionType.STRIKE, section_id="HA-2.3"
    )
    items = [
        SorInput(
            action=remove,
            action_key="p1:content:hs-pin-0007:remove",
            facts="Image matched a hate-symbol reference set; a reviewer confirmed.",
            automated_detection=True,
        ),
        SorInput(
            action=strike,
            action_key="p1:account:acct-1011:strike",
            facts="Repeated hate-symbol posts.",
            automated_detection=False,
        ),
    ]
    first = issue_statements(sample_store, catalogue, items, now=NOW)
    sor = first[0]
    section = catalogue.section("HA-2.3")
    policy = catalogue.policy("HA")
    assert sor.account_id == sample_store.get_content(["hs-pin-0007"])["hs-pin-0007"].author_id
    assert sor.content_id == "hs-pin-0007"
    assert "removed" in sor.restriction and "content item" in sor.scope and sor.duration
    assert sor.facts.startswith("Image matched")
    assert sor.automated_detection is True
    assert sor.automated_decision == DecisionAutomation.NOT_AUTOMATED
    assert section.title in sor.policy_ground and section.id in sor.policy_ground
    assert (
        policy.version == sor.policy_version
        and f"version {policy.version}" in sor.policy_explanation
    )
    assert len(sor.redress) == 3
    joined = " ".join(sor.redress).lower()
    assert "appeal" in joined and "out-of-court" in joined and "court" in joined
    strike_sor = first[1]
    assert strike_sor.content_id is None and strike_sor.account_id == "acct-1011"
    assert f"{catalogue.strike_policy('HA').expiry_days} days" in strike_sor.duration
    again = issue_statements(sample_store, catalogue, items, now=NOW)
    assert [s.id for s in again] == [s.id for s in first]
    assert get_statement(sample_store, "p1:content:hs-pin-0007:remove").id == sor.id
    out = io.StringIO()
    assert export(sample_store, out) == 2
    assert {json.loads(line)["action_key"] for line in out.getvalue().splitlines()} == {
        i.action_key for i in items
    }
