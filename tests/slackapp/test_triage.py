"""Escalation triage from the card: paging, take, assign, ack, priority, note, resolve, reopen."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slackapp.blocks import render_text
from slackapp.triage import (
    ESC_ACK,
    ESC_ASSIGN,
    ESC_NOTE,
    ESC_PRIORITY,
    ESC_REOPEN,
    ESC_RESOLVE,
    ESC_TAKE,
    GAP_BLOCK,
    GAP_INPUT,
    NOTE_BLOCK,
    NOTE_INPUT,
    OUTCOME_BLOCK,
    OUTCOME_INPUT,
    REMEDIATION_BLOCK,
    REMEDIATION_INPUT,
    EscalationRef,
)
from tests.slackapp.conftest import (
    CHANNEL,
    ONCALL,
    ONCALL_GROUP,
    OUTSIDER,
    REQUESTER,
    Harness,
)
from tools.escalations import list_escalations, timeline
from tools.models import EscalationStatus

SPECIALIST = "USPECIAL1"


def _open_p0(h: Harness) -> Any:
    h.driver.command(
        "escalate C-9001 imminent threat in the comments", user=REQUESTER, channel=CHANNEL
    )
    h.settle()
    (esc,) = list_escalations(h.store)
    return esc


def _card(h: Harness, esc_id: str) -> dict[str, Any]:
    esc = h.store.get_escalation(esc_id)
    return {**h.standin.messages[(esc.slack_channel, esc.slack_ts)], "ts": esc.slack_ts}


def _value(card: dict[str, Any], action_id: str) -> str:
    for block in card["blocks"]:
        if block["type"] == "actions":
            for el in block["elements"]:
                if el["action_id"] == action_id:
                    return str(el.get("value", ""))
    raise AssertionError(f"no {action_id} on the card")


def _click(h: Harness, esc_id: str, action_id: str, user: str) -> None:
    card = _card(h, esc_id)
    esc = h.store.get_escalation(esc_id)
    r = h.driver.click(
        action_id, _value(card, action_id), user=user, channel=esc.slack_channel, message=card
    )
    assert r.status_code == 200
    h.settle()


def _modal(h: Harness, esc_id: str, action_id: str, user: str) -> dict[str, Any]:
    before = len(h.standin.calls_to("views.open"))
    _click(h, esc_id, action_id, user)
    opened = h.standin.calls_to("views.open")
    assert len(opened) == before + 1
    view: dict[str, Any] = opened[-1].args["view"]
    return view


def test_p0_pages_on_call_and_is_triaged_from_the_card(harness: Harness) -> None:
    h = harness
    esc = _open_p0(h)
    assert esc.priority == "P0" and esc.owner_id is None
    on_call_id = h.standin.channels["ts-oncall"]
    assert esc.slack_channel == on_call_id  # addressed by id, resolved from the name
    card = _card(h, esc.id)
    text = render_text(card["blocks"])
    assert f"<!subteam^{ONCALL_GROUP}>" in json.dumps(card["blocks"])
    assert f"<!subteam^{ONCALL_GROUP}>" in card["text"]
    assert f"<#{on_call_id}>" in json.dumps(card["blocks"])  # "Routed to" links the channel
    assert "Acknowledge" in text and "Take" in text and "Resolve" in text
    # The on-call person gets a DM with a link to the card.
    opened = [c for c in h.standin.calls_to("conversations.open") if c.args["users"] == ONCALL]
    assert opened
    dms = [
        c for c in h.standin.calls_to("chat.postMessage") if c.args["channel"] == "D" + ONCALL[1:]
    ]
    assert len(dms) == 1 and "/archives/" + on_call_id in json.dumps(dms[0].args["blocks"])

    first_block_ids = {b.get("block_id") for b in card["blocks"] if b["type"] == "actions"}
    _click(h, esc.id, ESC_TAKE, SPECIALIST)
    assert h.store.get_escalation(esc.id).owner_id == SPECIALIST
    card = _card(h, esc.id)
    assert f"taken by @{SPECIALIST}" in render_text(card["blocks"])
    assert not first_block_ids & {b.get("block_id") for b in card["blocks"]}  # new ids

    r = h.driver.select(
        ESC_ASSIGN, user=SPECIALIST, channel=esc.slack_channel, message=card, selected_user=ONCALL
    )
    assert r.status_code == 200
    h.settle()
    assert h.store.get_escalation(esc.id).owner_id == ONCALL
    _click(h, esc.id, ESC_ACK, ONCALL)
    acked = h.store.get_escalation(esc.id)
    assert acked.status == EscalationStatus.ACKNOWLEDGED
    r = h.driver.select(
        ESC_PRIORITY,
        user=ONCALL,
        channel=esc.slack_channel,
        message=_card(h, esc.id),
        selected_value="P1",
    )
    h.settle()
    assert h.store.get_escalation(esc.id).priority == "P1"

    view = _modal(h, esc.id, ESC_NOTE, ONCALL)
    h.driver.submit_view(
        view, {NOTE_BLOCK: {NOTE_INPUT: "called the reporter <!channel>"}}, user=ONCALL
    )
    h.settle()
    view = _modal(h, esc.id, ESC_RESOLVE, ONCALL)
    h.driver.submit_view(
        view,
        {
            OUTCOME_BLOCK: {OUTCOME_INPUT: "content removed"},
            REMEDIATION_BLOCK: {REMEDIATION_INPUT: "wellbeing resources sent"},
        },
        user=ONCALL,
        checked={GAP_BLOCK: {GAP_INPUT: ["gap"]}},
    )
    h.settle()
    done = h.store.get_escalation(esc.id)
    assert done.status == EscalationStatus.RESOLVED and done.resolution == "content removed"
    card = _card(h, esc.id)
    shown = render_text(card["blocks"])
    assert "resolved by @UONCALL01: content removed" in shown and "policy gap found" in shown
    assert "<!channel>" not in json.dumps(card["blocks"])  # the note is escaped
    assert "Reopen" in shown and "Acknowledge" not in shown
    _click(h, esc.id, ESC_REOPEN, SPECIALIST)
    assert h.store.get_escalation(esc.id).status == EscalationStatus.OPEN
    verbs = [s.verb for s in timeline(h.store, esc.id)]
    assert verbs == [
        "opened",
        "take",
        "reassign",
        "acknowledge",
        "priority",
        "note",
        "resolve",
        "reopen",
    ]
    # Every step republished App Home of whoever it concerns.
    assert ONCALL in h.standin.home_views and SPECIALIST in h.standin.home_views


def test_a_refused_step_is_answered_and_a_forged_click_changes_nothing(harness: Harness) -> None:
    h = harness
    esc = _open_p0(h)
    card = _card(h, esc.id)
    _click(h, esc.id, ESC_ACK, SPECIALIST)
    # A stale card: Acknowledge again is refused by the store and the clicker is told.
    h.driver.click(
        ESC_ACK, _value(card, ESC_ACK), user=OUTSIDER, channel=esc.slack_channel, message=card
    )
    h.settle()
    assert any("Nothing changed" in t for t in h.ephemerals(OUTSIDER))
    # A button claiming another ticket than the card it sits on is refused.
    forged = EscalationRef(escalation_id="esc_other").model_dump_json()
    h.driver.click(ESC_TAKE, forged, user=OUTSIDER, channel=esc.slack_channel, message=card)
    h.settle()
    assert h.store.get_escalation(esc.id).owner_id == SPECIALIST
    assert any("not on an escalation card" in t for t in h.ephemerals(OUTSIDER))


def test_breach_reminder_is_broadcast_and_unacknowledged_p0_is_repaged(harness: Harness) -> None:
    from slackapp.reminders import send_due_reminders, send_repages

    h = harness
    esc = _open_p0(h)
    rt = h.app.runtime
    window = h.app.runtime.extras["catalogue"].policy("HA").escalation.ack_minutes["P0"]
    rt.clock = lambda: esc.opened_at + timedelta(minutes=window)
    dms_before = len(h.standin.calls_to("conversations.open"))
    assert send_repages(rt, h.app.client) == 1
    assert send_repages(rt, h.app.client) == 0
    notice = h.standin.thread(esc.slack_channel, esc.slack_ts)[-1]
    assert notice.get("reply_broadcast") and f"<!subteam^{ONCALL_GROUP}>" in notice["text"]
    assert len(h.standin.calls_to("conversations.open")) == dms_before + 1
    rt.clock = lambda: esc.sla_due_at + timedelta(minutes=1)
    assert send_due_reminders(rt, h.app.client) == 1
    reminder = h.standin.thread(esc.slack_channel, esc.slack_ts)[-1]
    assert reminder.get("reply_broadcast") and "SLA breached" in render_text(reminder["blocks"])
    assert f"<!subteam^{ONCALL_GROUP}>" in reminder["text"]  # no owner: the group is told
    shown = render_text(_card(h, esc.id)["blocks"])
    assert "on-call re-paged" in shown and "SLA reminder (breach level 1)" in shown


def test_raising_a_ticket_to_p1_pages_on_call(harness: Harness) -> None:
    h = harness
    h.driver.command("escalate C-9001 looks coordinated", user=REQUESTER, channel=CHANNEL)
    h.settle()
    (esc,) = list_escalations(h.store)
    assert esc.priority not in ("P0", "P1")
    assert not [c for c in h.standin.calls_to("conversations.open") if c.args["users"] == ONCALL]
    card = _card(h, esc.id)
    h.driver.select(
        ESC_PRIORITY,
        user=SPECIALIST,
        channel=esc.slack_channel,
        message=card,
        selected_value="P1",
    )
    h.settle()
    assert h.store.get_escalation(esc.id).priority == "P1"
    assert [c for c in h.standin.calls_to("conversations.open") if c.args["users"] == ONCALL]
    assert f"<!subteam^{ONCALL_GROUP}>" in json.dumps(_card(h, esc.id)["blocks"])


def test_a_missing_or_closed_channel_is_a_clear_answer(harness: Harness) -> None:
    h = harness
    h.standin.not_member.add("ts-oncall")
    h.driver.command("escalate C-9001 imminent threat", user=REQUESTER, channel=CHANNEL)
    h.settle()
    said = " ".join(render_text(m.get("blocks")) for m in h.messages())
    assert "Warden is not in #ts-oncall" in said and "/invite @Warden" in said
