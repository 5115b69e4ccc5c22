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


def test_not_violating_asks_for_the_ground_then_closes_the_case(
    harness: Harness, catalogue: Any
) -> None:
    from slackapp.casework import (
        EXCEPTION_BLOCK,
        EXCEPTION_INPUT,
        GROUND_BLOCK,
        GROUND_INPUT,
    )
    from tools import audit

    card = _recommendation(harness)
    harness.driver.click(
        NOT_VIOLATING, _value(card, NOT_VIOLATING), user=REQUESTER, channel=CHANNEL, message=card
    )
    harness.settle()
    # Nothing is decided by the click: a modal asks for the reason and the exception.
    assert get_work(harness.store, catalogue, "C-9001").status == "new"
    (opened,) = harness.standin.calls_to("views.open")
    view = opened.args["view"]
    select = next(b for b in view["blocks"] if b.get("block_id") == EXCEPTION_BLOCK)
    offered = [o["value"] for o in select["element"]["options"]]
    assert "HA-3.2" in offered and all(
        catalogue.section(s).kind.value == "exception" for s in offered
    )
    # An empty ground is refused in the modal itself.
    short = harness.driver.submit_view(view, {GROUND_BLOCK: {GROUND_INPUT: " "}}, user=REQUESTER)
    assert "errors" in short.text
    harness.settle()
    assert get_work(harness.store, catalogue, "C-9001").status == "new"
    reason = "Quotes the slur to condemn it <!channel>"
    harness.driver.submit_view(
        view,
        {GROUND_BLOCK: {GROUND_INPUT: reason}},
        user=REQUESTER,
        selected={EXCEPTION_BLOCK: {EXCEPTION_INPUT: "HA-3.2"}},
    )
    harness.settle()
    work = get_work(harness.store, catalogue, "C-9001")
    assert (work.status, work.decision, work.decided_by) == ("closed", "not_violating", REQUESTER)
    assert work.exception_section == "HA-3.2"
    decided = [e for e in audit.events(harness.store) if e.subject.endswith("C-9001")]
    assert any("condemn" in str(e.details) for e in decided)  # the ground is audited
    updated = harness.standin.messages[(CHANNEL, card["ts"])]
    text = render_text(updated["blocks"])
    assert "not violating" in text and f"@{REQUESTER}" in text and "HA-3.2" in text
    assert "condemn" in text and "<!channel>" not in str(updated["blocks"])
    assert "<!date^" in str(updated["blocks"])  # who and when
    assert all(b["type"] != "actions" for b in updated["blocks"])


def test_a_not_violating_draft_offers_its_exception_first(harness: Harness) -> None:
    from agent.interface import Recommendation
    from slackapp.blocks import CaseRef, recommendation_blocks
    from slackapp.casework import GroundMeta, exception_options, ground_modal

    draft = Recommendation(
        case_id="C-9001",
        policy_id="HA",
        policy_version="3",
        section_ids=["HA-3.3"],
        verdict="not_violating",
        severity=None,
        action=None,
        confidence=0.4,
        rationale="Reclaimed use by the group itself.",
        citations=[],
        mode="rules",
    )
    blocks = recommendation_blocks(draft, thread_id="C1:1")
    ref = CaseRef.model_validate_json(_value({"blocks": blocks}, NOT_VIOLATING))
    assert (ref.policy, ref.section) == ("HA", "HA-3.3")
    rt = harness.app.runtime
    meta = GroundMeta(case_id="C-9001", thread_id="C1:1", card_id="k")
    view = ground_modal(meta, exceptions=exception_options(rt, ref.policy), initial=ref.section)
    select = next(b for b in view["blocks"] if b.get("block_id") == "exception")
    assert select["element"]["initial_option"]["value"] == "HA-3.3"
    # A section that is not an exception is never preselected.
    view = ground_modal(meta, exceptions=exception_options(rt, "HA"), initial="HA-2.1")
    select = next(b for b in view["blocks"] if b.get("block_id") == "exception")
    assert "initial_option" not in select["element"]


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
