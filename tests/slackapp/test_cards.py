"""Cards: Escalate leads on imminent harm, citations link to the policy, decisions say who and
when, block ids change on every draw, the full target list pages in a modal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agent.interface import Citation, Recommendation
from knowledge.vocabulary import ActionType
from slackapp.blocks import (
    APPLY,
    DECIDE,
    ESCALATE_CASE,
    NOT_VIOLATING,
    TARGETS_PAGE,
    VIEW_TARGETS,
    answer_blocks,
    recommendation_blocks,
    targets_modal,
)
from tests.slackapp.conftest import CHANNEL, CLUSTER, REQUESTER, Harness, citation


class LinkedCitation(Citation):
    """A hit that carries its policy's `url` (front matter), as issue 16's hits do."""

    url: str | None = None


def _rec(*, escalate: bool) -> Recommendation:
    return Recommendation(
        case_id="case-1031",
        policy_id="SH",
        policy_version="3",
        section_ids=["SH-2.2"],
        verdict="violating",
        severity="critical",
        action=ActionType.LIMIT_DISTRIBUTION,
        confidence=0.6,
        rationale="Expressions of imminent risk.",
        citations=[citation()],
        escalate=escalate,
        mode="rules",
    )


def _buttons(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        el
        for b in blocks
        if b["type"] == "actions"
        for el in b["elements"]  # type: ignore[attr-defined]
    ]


def test_escalate_is_the_primary_button_on_imminent_harm() -> None:
    urgent = _buttons(recommendation_blocks(_rec(escalate=True), thread_id="C1:1.1"))
    assert [b["action_id"] for b in urgent] == [ESCALATE_CASE, DECIDE, APPLY, NOT_VIOLATING]
    assert urgent[0].get("style") == "primary"
    assert all("style" not in b for b in urgent[1:])
    calm = _buttons(recommendation_blocks(_rec(escalate=False), thread_id="C1:1.1"))
    assert [b["action_id"] for b in calm] == [DECIDE, APPLY, NOT_VIOLATING, ESCALATE_CASE]
    assert calm[0].get("style") == "primary"
    assert all("style" not in b for b in calm[1:])


def test_citations_link_to_the_policy_when_the_hit_has_a_url() -> None:
    from agent.interface import PolicyAnswer

    linked = LinkedCitation(
        **citation().model_dump(), url="https://policies.lumen.example/community/hateful"
    )
    hostile = LinkedCitation(**citation("HA-2.2").model_dump(), url="https://x.example|<!here>")
    answer = PolicyAnswer(text="Yes.", citations=[linked, hostile, citation("HA-2.3")], mode="llm")
    sources = json.dumps(answer_blocks(answer, thread_id="C1:1.1"))
    assert "<https://policies.lumen.example/community/hateful|HA-2.1>" in sources
    assert "`HA-2.2`" in sources and "<!here>" not in sources  # not a plain url: no link
    assert "`HA-2.3`" in sources


def test_block_ids_are_new_on_every_draw() -> None:
    first = recommendation_blocks(_rec(escalate=False), thread_id="C1:1.1")
    second = recommendation_blocks(_rec(escalate=False), thread_id="C1:1.1")
    ids = [{b.get("block_id") for b in blocks if b.get("block_id")} for blocks in (first, second)]
    assert ids[0] and not ids[0] & ids[1]


def test_proposal_card_pages_approvers_and_lists_every_target(harness: Harness) -> None:
    h = harness
    h.driver.command(f"propose {CLUSTER}", user=REQUESTER, channel=CHANNEL)
    h.settle()
    card = next(m for m in h.messages() if str(m.get("text", "")).startswith("Proposal "))
    assert "<!subteam^S0APPROVERS>" in card["text"]  # the group is notified
    assert "<!subteam^S0APPROVERS>" in json.dumps(card["blocks"])
    value = next(el["value"] for el in _buttons(card["blocks"]) if el["action_id"] == VIEW_TARGETS)
    h.driver.click(VIEW_TARGETS, value, user=REQUESTER, channel=CHANNEL, message=card)
    h.settle()
    (opened,) = h.standin.calls_to("views.open")
    text = json.dumps(opened.args["view"]["blocks"])
    assert "12 targets" in text and "pin_011" in text
    # Every approver's App Home was republished with the proposal and Approve / Reject.
    home = h.standin.home_views["UAPPROVER1"]
    assert "warden_home_approve" in json.dumps(home["blocks"])


def test_targets_modal_pages_through_a_long_list(harness: Harness) -> None:
    h = harness
    h.driver.command(f"propose {CLUSTER}", user=REQUESTER, channel=CHANNEL)
    h.settle()
    (pending,) = [p for p in _proposals(h)]
    proposal = h.store.get_proposal(pending)
    many = proposal.model_copy(update={"actions": proposal.actions * 5})  # 60 targets
    first, last = targets_modal(many, 0), targets_modal(many, 99)
    assert "page 1 of 3" in json.dumps(first["blocks"]) and "Next" in json.dumps(first)
    assert "page 3 of 3" in json.dumps(last["blocks"]) and "Next" not in json.dumps(last)
    assert json.dumps(first["blocks"]).count("pin_") == TARGETS_PAGE


def _proposals(h: Harness) -> list[str]:
    from sqlalchemy import select

    from tools.tables import ProposalRow

    with h.store.session() as s:
        return list(s.scalars(select(ProposalRow.id)))


def test_a_rejection_says_who_and_approvals_say_when() -> None:
    from slackapp.blocks import proposal_blocks
    from tools.models import Approval, BlastRadius, PlannedAction, Proposal, ProposalStatus

    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    action = PlannedAction(
        target_type="content", target_id="pin_1", action=ActionType.REMOVE, section_id="HA-2.1"
    )
    proposal = Proposal(
        id="prop_1",
        policy_id="HA",
        policy_version="3",
        section_ids=["HA-2.1"],
        action=ActionType.REMOVE,
        actions=[action],
        requester_id="UREQ",
        approvals=[Approval(approver_id="UAPP1", decided_at=now, action_hash="h")],
        required_approvals=2,
        status=ProposalStatus.REJECTED,
        created_at=now,
        expires_at=now,
        action_hash="h",
        decided_by="UAPP2",
        decided_at=now,
        reject_reason="wrong cluster",
    )
    blast = BlastRadius(total_actions=1, content_count=1, account_count=0, sample=[action])
    text = json.dumps(proposal_blocks(proposal, blast, thread_id="C1:1.1"))
    assert f"<@UAPP1> <!date^{int(now.timestamp())}" in text
    assert f"Rejected by <@UAPP2> <!date^{int(now.timestamp())}" in text and "wrong cluster" in text


def _home_click(h: Harness, user: str, action_id: str, value: str) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": h.driver.team_id},
        "container": {"type": "view", "view_id": "VHOME0001"},
        "view": {"id": "VHOME0001", "type": "home"},
        "actions": [{"type": "button", "action_id": action_id, "value": value}],
    }
    assert h.driver._interaction(payload).status_code == 200
    h.settle()


def _home_value(h: Harness, user: str, action_id: str) -> str:
    home = h.standin.home_views[user]
    return next(str(el["value"]) for el in _buttons(home["blocks"]) if el["action_id"] == action_id)


def test_approve_from_app_home_goes_through_the_store_checks(harness: Harness) -> None:
    from slackapp.home import HOME_APPROVE

    h = harness
    h.driver.command(f"propose {CLUSTER}", user=REQUESTER, channel=CHANNEL)
    h.settle()
    (pid,) = _proposals(h)
    _home_click(h, "UAPPROVER1", HOME_APPROVE, _home_value(h, "UAPPROVER1", HOME_APPROVE))
    approvals = h.store.get_proposal(pid).approvals
    assert [a.approver_id for a in approvals] == ["UAPPROVER1"]
    # A forged value naming a proposal with no card is refused without a decision.
    _home_click(h, "UAPPROVER2", HOME_APPROVE, '{"proposal_id": "prop_nope", "action_hash": "x"}')
    assert [a.approver_id for a in h.store.get_proposal(pid).approvals] == ["UAPPROVER1"]


def test_acknowledge_from_app_home(harness: Harness) -> None:
    from slackapp.triage import ESC_ACK
    from tools.escalations import list_escalations
    from tools.models import EscalationStatus

    h = harness
    h.driver.command("escalate C-9001", user=REQUESTER, channel=CHANNEL)  # owner UOWNER1
    h.settle()
    h.driver.home_opened(user="UOWNER1")
    h.settle()
    _home_click(h, "UOWNER1", ESC_ACK, _home_value(h, "UOWNER1", ESC_ACK))
    (esc,) = list_escalations(h.store)
    assert esc.status == EscalationStatus.ACKNOWLEDGED


def test_take_next_from_app_home_claims_through_the_case_queue(harness: Harness) -> None:
    from slackapp.home import HOME_TAKE_NEXT
    from tools.casework import queue

    h = harness
    rt = h.app.runtime
    h.driver.home_opened(user="UREVIEW01")
    h.settle()
    home = json.dumps(h.standin.home_views["UREVIEW01"])
    assert "No cases claimed by you." in home and "critical-harms: 1 waiting" in home
    take = _home_value(h, "UREVIEW01", HOME_TAKE_NEXT)
    # Not in the pod's reviewer group: the store refuses, the person is told, nothing claimed.
    _home_click(h, "UREVIEW01", HOME_TAKE_NEXT, take)
    assert all(e.claimed_by is None for e in queue(h.store, _catalogue_of(rt)))
    rt.settings = rt.settings.model_copy(
        update={"reviewer_groups": {"critical-harms": ["UREVIEW01"]}}
    )
    _home_click(h, "UREVIEW01", HOME_TAKE_NEXT, take)
    (entry,) = queue(h.store, _catalogue_of(rt))
    assert (entry.case_id, entry.claimed_by) == ("C-9001", "UREVIEW01")
    dms = [c for c in h.standin.calls if c.method == "chat.postMessage" and "C-9001" in str(c.args)]
    assert any("You claimed case" in str(c.args.get("text")) for c in dms)
    assert "Your claimed cases" in json.dumps(h.standin.home_views["UREVIEW01"])


def _catalogue_of(rt: object) -> object:
    from slackapp.casework import _catalogue

    return _catalogue(rt)  # type: ignore[arg-type]


def test_app_home_shows_dead_lettered_webhooks() -> None:
    from datetime import UTC, datetime

    from slackapp.home import HomeData, home_view

    quiet = json.dumps(home_view(HomeData(), now=datetime.now(UTC)))
    assert "dead-lettered" not in quiet
    loud = json.dumps(home_view(HomeData(webhook_dead=2), now=datetime.now(UTC)))
    assert "2 webhook event(s) dead-lettered" in loud
