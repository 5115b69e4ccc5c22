"""The recommendation card's decision buttons record the clicker's own decision (issue 11):
no gate, no other approver; the card then shows who decided and when."""

from __future__ import annotations

from typing import Any

from slackapp.blocks import DECIDE, NOT_VIOLATING, render_text
from tests.slackapp.conftest import CHANNEL, OUTSIDER, REQUESTER, Harness
from tools.casework import get_work
from tools.gateway import LocalPlatform


def _value(card: dict[str, Any], action_id: str) -> str:
    return next(
        el["value"]
        for b in card["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el["action_id"] == action_id
    )


def _recommendation(harness: Harness) -> dict[str, Any]:
    rt = harness.app.runtime
    rt.settings = rt.settings.model_copy(
        update={"reviewer_groups": {"critical-harms": [REQUESTER]}}
    )
    harness.driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
    harness.settle()
    return next(m for m in harness.messages() if m.get("text", "").startswith("Recommendation"))


def test_apply_as_my_decision_enforces_and_the_card_says_who(
    harness: Harness, catalogue: Any
) -> None:
    card = _recommendation(harness)
    outsider = harness.driver.click(
        DECIDE, _value(card, DECIDE), user=OUTSIDER, channel=CHANNEL, message=card
    )
    assert outsider.status_code == 200
    harness.settle()
    assert any("not recorded" in t for t in harness.ephemerals(OUTSIDER))
    assert get_work(harness.store, catalogue, "C-9001").status == "new"

    harness.driver.click(
        DECIDE, _value(card, DECIDE), user=REQUESTER, channel=CHANNEL, message=card
    )
    harness.settle()
    work = get_work(harness.store, catalogue, "C-9001")
    assert (work.status, work.decided_by, work.decision) == ("closed", REQUESTER, "violating")
    target = LocalPlatform(harness.store.engine).target("content", "pin_000")
    assert target is not None and target.removals == 1
    updated = harness.standin.messages[(CHANNEL, card["ts"])]
    text = render_text(updated["blocks"])
    assert f"Decided by @{REQUESTER}" in text and "remove under `HA-2.1`" in text
    assert all(b["type"] != "actions" for b in updated["blocks"])
    assert (
        not harness.standin.calls_to("chat.postMessage")[-1]
        .args.get("text", "")
        .startswith("Proposal ")
    )  # no proposal card waiting for other approvers


def test_not_violating_closes_the_case(harness: Harness, catalogue: Any) -> None:
    card = _recommendation(harness)
    harness.driver.click(
        NOT_VIOLATING, _value(card, NOT_VIOLATING), user=REQUESTER, channel=CHANNEL, message=card
    )
    harness.settle()
    work = get_work(harness.store, catalogue, "C-9001")
    assert (work.status, work.decision) == ("closed", "not_violating")
    text = render_text(harness.standin.messages[(CHANNEL, card["ts"])]["blocks"])
    assert "not violating" in text and f"@{REQUESTER}" in text


def test_escalate_from_the_card_is_the_clickers_decision(harness: Harness, catalogue: Any) -> None:
    from slackapp.blocks import ESCALATE_CASE

    card = _recommendation(harness)
    harness.driver.click(
        ESCALATE_CASE, _value(card, ESCALATE_CASE), user=REQUESTER, channel=CHANNEL, message=card
    )
    harness.settle()
    work = get_work(harness.store, catalogue, "C-9001")
    assert (work.status, work.decision, work.decided_by) == ("escalated", "escalated", REQUESTER)
    assert work.escalation_id is not None
