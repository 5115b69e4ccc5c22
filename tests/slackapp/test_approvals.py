"""Four-eyes approvals through signed clicks: the store decides, every refusal is answered."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from slackapp.blocks import APPROVE, REASON_BLOCK, REASON_INPUT, REJECT, ProposalRef, render_text
from tests.slackapp.conftest import APPROVERS, CHANNEL, CLUSTER, OUTSIDER, REQUESTER, Harness
from tools.models import ProposalStatus


def _pid(h: Harness) -> str:
    calls = [
        c for c in h.standin.calls_to("chat.postMessage") if "Proposal" in c.args.get("text", "")
    ]
    assert calls, "no proposal card was posted"
    return str(calls[-1].args["text"].split()[1])


def _button(card: dict[str, Any], action_id: str) -> str:
    for block in card["blocks"]:
        if block["type"] == "actions":
            for el in block["elements"]:
                if el["action_id"] == action_id:
                    return str(el["value"])
    raise AssertionError(f"no {action_id} button on the card")


def _click(h: Harness, action_id: str, user: str, card: dict[str, Any]) -> None:
    r = h.driver.click(
        action_id, _button(card, action_id), user=user, channel=CHANNEL, message=card
    )
    assert r.status_code == 200


def _start(h: Harness) -> tuple[str, dict[str, Any]]:
    assert (
        h.driver.command(f"propose {CLUSTER} remove", user=REQUESTER, channel=CHANNEL).status_code
        == 200
    )
    h.settle()
    pid = _pid(h)
    return pid, h.card(pid)


def test_two_approvers_execute_with_progress_and_refusals_are_answered(harness: Harness) -> None:
    h = harness
    pid, card = _start(h)
    text = render_text(card["blocks"])
    assert "BLAST RADIUS" not in text and "12 items" in text
    assert "0 of 2 (critical harm: two approvers)" in text
    assert "[ Approve ]  [ Reject ]" in text
    # Case content in the sample is escaped: no live mention, no link.
    assert "<!channel>" not in json.dumps(card["blocks"])
    assert "evil[.]example[.]com" in json.dumps(card["blocks"])

    _click(h, APPROVE, REQUESTER, card)
    _click(h, APPROVE, OUTSIDER, card)
    h.settle()
    assert any("not recorded" in t for t in h.ephemerals(REQUESTER))
    assert any("not recorded" in t for t in h.ephemerals(OUTSIDER))
    assert h.store.get_proposal(pid).approvals == []

    _click(h, APPROVE, APPROVERS[0], card)
    h.settle()
    assert any("1 more approver needed" in t for t in h.ephemerals(APPROVERS[0]))
    assert "1 of 2" in render_text(h.card(pid)["blocks"])
    assert h.warden.resumes == []

    _click(h, APPROVE, APPROVERS[2], card)  # from settings.approvers, not the user group
    h.settle()
    proposal = h.store.get_proposal(pid)
    assert proposal.status == ProposalStatus.EXECUTED
    assert len(h.warden.resumes) == 1
    assert sorted(h.warden.resumes[0].decided_by) == sorted([APPROVERS[0], APPROVERS[2]])
    final = render_text(h.card(pid)["blocks"])
    assert "Executed: 12 applied, 0 failed" in final
    assert "[ Approve ]" not in final
    progress = [
        c for c in h.standin.calls_to("chat.update") if "Executing" in c.args.get("text", "")
    ]
    assert len(progress) >= 2, "the card should show progress during the fanout"

    # A stale button on the executed proposal: refused to the clicker, nothing runs again.
    _click(h, APPROVE, APPROVERS[1], card)
    h.settle()
    assert any("not recorded" in t for t in h.ephemerals(APPROVERS[1]))
    assert len(h.warden.resumes) == 1


def test_double_click_records_one_approval(harness: Harness) -> None:
    h = harness
    pid, card = _start(h)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _click(h, APPROVE, APPROVERS[0], card), range(4)))
    h.settle()
    proposal = h.store.get_proposal(pid)
    assert [a.approver_id for a in proposal.approvals] == [APPROVERS[0]]
    assert proposal.status == ProposalStatus.PENDING
    assert len(h.ephemerals(APPROVERS[0])) == 4  # one "recorded", three refusals
    assert sum("not recorded" in t for t in h.ephemerals(APPROVERS[0])) == 3


def _reject(h: Harness, user: str, card: dict[str, Any], reason: str) -> None:
    _click(h, REJECT, user, card)
    opened = [c for c in h.standin.calls_to("views.open")][-1]
    view = opened.args["view"]
    r = h.driver.submit_view(view, {REASON_BLOCK: {REASON_INPUT: reason}}, user=user)
    assert r.status_code == 200


def test_reject_with_reason_closes_the_proposal(harness: Harness) -> None:
    h = harness
    pid, card = _start(h)
    _reject(h, APPROVERS[0], card, "cluster includes counter-speech")
    h.settle()
    proposal = h.store.get_proposal(pid)
    assert proposal.status == ProposalStatus.REJECTED
    assert proposal.reject_reason == "cluster includes counter-speech"
    assert "Rejected" in render_text(h.card(pid)["blocks"])
    assert [d.decision for d in h.warden.resumes] == ["reject"]


def test_approve_and_reject_at_the_same_moment_make_one_decision(harness: Harness) -> None:
    h = harness
    pid, card = _start(h)
    _click(h, APPROVE, APPROVERS[0], card)
    h.settle()
    # Open the reject modal first (it needs a click), then race its submission with an approval.
    _click(h, REJECT, APPROVERS[1], card)
    view = h.standin.calls_to("views.open")[-1].args["view"]
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(_click, h, APPROVE, APPROVERS[2], card)
        b = pool.submit(
            h.driver.submit_view,
            view,
            {REASON_BLOCK: {REASON_INPUT: "not sure"}},
            user=APPROVERS[1],
        )
        a.result()
        assert b.result().status_code == 200
    h.settle()
    status = h.store.get_proposal(pid).status
    assert status in (ProposalStatus.EXECUTED, ProposalStatus.REJECTED)
    assert len(h.warden.resumes) == 1
    loser = APPROVERS[1] if status == ProposalStatus.EXECUTED else APPROVERS[2]
    assert any("not recorded" in t for t in h.ephemerals(loser))


def test_unanswered_proposal_expires_and_its_card_closes(harness: Harness) -> None:
    from slackapp.reminders import expire_proposals

    h = harness
    pid, card = _start(h)
    rt = h.app.runtime
    assert expire_proposals(rt, h.app.client) == []
    later = h.store.get_proposal(pid).expires_at + timedelta(minutes=1)
    rt.clock = lambda: later
    assert expire_proposals(rt, h.app.client) == [pid]
    assert expire_proposals(rt, h.app.client) == []  # once
    assert h.store.get_proposal(pid).status == ProposalStatus.EXPIRED
    text = render_text(h.card(pid)["blocks"])
    assert "Expired" in text and "[ Approve ]" not in text
    assert [d.decision for d in h.warden.resumes] == ["expire"]
    _click(h, APPROVE, APPROVERS[0], card)
    h.settle()
    assert any("not recorded" in t for t in h.ephemerals(APPROVERS[0]))


def test_an_approver_removed_from_the_group_cannot_approve(harness: Harness) -> None:
    h = harness
    pid, card = _start(h)
    h.driver.home_opened(user=APPROVERS[0])  # the group is read (and cached for display)
    h.settle()
    h.standin.usergroups["S0APPROVERS"] = [APPROVERS[1]]
    _click(h, APPROVE, APPROVERS[0], card)
    h.settle()
    assert h.store.get_proposal(pid).approvals == []
    assert any("not an authorised approver" in t for t in h.ephemerals(APPROVERS[0]))


def test_forged_and_malformed_button_values_are_refused_and_audited(harness: Harness) -> None:
    from tools import audit

    h = harness
    _, card = _start(h)
    before = len(audit.events(h.store))
    forged = ProposalRef(
        proposal_id="prop_nope", action_hash="00", thread_id="C:1"
    ).model_dump_json()
    for value in ("not json", "{}", forged):
        r = h.driver.click(APPROVE, value, user=APPROVERS[0], channel=CHANNEL, message=card)
        assert r.status_code == 200
    h.settle()
    new = audit.events(h.store)[before:]
    assert [e.outcome for e in new] == ["refused"] * 3
    assert len(h.ephemerals(APPROVERS[0])) == 3
    assert h.warden.resumes == []


def test_a_fanout_interrupted_by_a_crash_is_finished_by_the_sweep(harness: Harness) -> None:
    import pytest

    from slackapp.reminders import resume_interrupted
    from tools import proposals
    from tools.fanout import execute
    from tools.gateway import LocalPlatform

    h = harness
    pid, _ = _start(h)
    proposal = h.store.get_proposal(pid)
    for approver in APPROVERS[:2]:
        result = proposals.approve(
            h.store, pid, approver, proposal.action_hash, approvers=set(APPROVERS)
        )
        assert result.accepted

    def crash(_: object) -> None:
        raise KeyboardInterrupt  # the process dies between two batches

    with pytest.raises(KeyboardInterrupt):
        execute(
            h.store,
            LocalPlatform(h.store.engine),
            pid,
            catalogue=h.warden.catalogue,
            batch_size=5,
            progress=crash,
        )
    assert h.store.get_proposal(pid).status == ProposalStatus.EXECUTING

    rt = h.app.runtime
    assert resume_interrupted(rt, h.app.client) == []  # too recent: maybe another replica runs it
    assert resume_interrupted(rt, h.app.client, stale_after_s=0) == [pid]
    assert h.store.get_proposal(pid).status == ProposalStatus.EXECUTED
    assert "Executed: 12 applied, 0 failed" in render_text(h.card(pid)["blocks"])
    assert resume_interrupted(rt, h.app.client, stale_after_s=0) == []
