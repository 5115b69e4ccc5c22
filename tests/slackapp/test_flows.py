"""Escalations with SLA reminders, App Home, the message shortcut, DMs and assistant threads."""

from __future__ import annotations

import json
from datetime import timedelta

from slackapp.blocks import ESCALATE_CASE, render_text
from slackapp.reminders import send_due_reminders
from tests.slackapp.conftest import APPROVERS, CHANNEL, CLUSTER, REQUESTER, Harness


def test_escalation_goes_to_the_pod_and_reminders_thread_under_it(harness: Harness) -> None:
    h = harness
    assert (
        h.driver.command(
            "escalate C-9001 looks coordinated", user=REQUESTER, channel=CHANNEL
        ).status_code
        == 200
    )
    h.settle()
    from tools.escalations import list_escalations

    (esc,) = list_escalations(h.store)
    assert esc.slack_channel == h.standin.channels[esc.channel.lstrip("#")] and esc.slack_ts
    card = h.standin.messages[(esc.slack_channel, esc.slack_ts)]
    text = render_text(card["blocks"])
    assert f"ESCALATION {esc.id.upper()}" in text and "@UOWNER1" in text
    dumped = json.dumps(card["blocks"])
    assert "<!here>" not in dumped and "evil[.]com" in dumped

    rt = h.app.runtime
    assert send_due_reminders(rt, h.app.client) == 0
    later = esc.sla_due_at + timedelta(minutes=5)
    rt.clock = lambda: later
    assert send_due_reminders(rt, h.app.client) == 1
    assert send_due_reminders(rt, h.app.client) == 0  # once per breach level
    thread = h.standin.thread(esc.slack_channel, esc.slack_ts)
    assert "SLA breached" in render_text(thread[-1]["blocks"])
    # Broadcast to the channel and mentioning the owner, so the owner is notified.
    assert thread[-1]["reply_broadcast"] and "<@UOWNER1>" in thread[-1]["text"]


def test_escalate_button_on_a_recommendation(harness: Harness) -> None:
    h = harness
    h.driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
    h.settle()
    card = h.messages()[-1]
    value = next(
        el["value"]
        for b in card["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el["action_id"] == ESCALATE_CASE
    )
    assert (
        h.driver.click(
            ESCALATE_CASE, value, user=REQUESTER, channel=CHANNEL, message=card
        ).status_code
        == 200
    )
    h.settle()
    assert h.warden.requests[-1].intent == "escalate"
    assert h.warden.requests[-1].case_id == "C-9001"
    assert h.warden.requests[-1].thread_id == f"{CHANNEL}:{card['thread_ts']}"


def test_app_home_shows_what_waits_for_the_viewer(harness: Harness) -> None:
    h = harness
    h.driver.command(f"propose {CLUSTER}", user=REQUESTER, channel=CHANNEL)
    h.driver.command("escalate C-9001", user=REQUESTER, channel=CHANNEL)
    h.settle()
    h.driver.home_opened(user=APPROVERS[0])
    h.driver.home_opened(user="UOWNER1")
    h.driver.home_opened(user=REQUESTER)
    h.settle()
    approver = render_text(h.standin.home_views[APPROVERS[0]]["blocks"])
    assert "Proposals waiting for your approval" in approver and "remove × 12" in approver
    assert "Team today" in approver and "Today:" in approver
    owner = render_text(h.standin.home_views["UOWNER1"]["blocks"])
    assert "Your open escalations" in owner and "min left" in owner
    requester = render_text(h.standin.home_views[REQUESTER]["blocks"])
    assert "No proposals waiting for your approval" in requester  # cannot approve their own


def test_message_shortcut_answers_privately(harness: Harness) -> None:
    h = harness
    ts = h.standin.add_message(CHANNEL, "is this pin ok? <@UBOSS> says yes", user="UPOSTER")
    message = h.standin.messages[(CHANNEL, ts)]
    r = h.driver.message_shortcut(
        "warden_ask_message", user=REQUESTER, channel=CHANNEL, message=message
    )
    assert r.status_code == 200
    h.settle()
    assert h.warden.requests[-1].text == "is this pin ok? <@UBOSS> says yes"
    # Never in the reported person's thread: only the person who asked sees the answer.
    assert [m for m in h.messages() if m.get("bot_id")] == []
    (private,) = [
        c for c in h.standin.calls_to("chat.postEphemeral") if c.args["user"] == REQUESTER
    ]
    assert "thread_ts" not in private.args and "dehumanising" in json.dumps(private.args["blocks"])
    # Warden cannot post ephemerals where it is not a member: then it sends a DM.
    h.standin.channels["elsewhere"] = "CELSEWHERE"
    h.standin.not_member.add("elsewhere")
    ts = h.standin.add_message("CELSEWHERE", "and this one?", user="UPOSTER")
    h.driver.message_shortcut(
        "warden_ask_message",
        user=REQUESTER,
        channel="CELSEWHERE",
        message=h.standin.messages[("CELSEWHERE", ts)],
    )
    h.settle()
    assert [m for m in h.messages("CELSEWHERE") if m.get("bot_id")] == []
    assert [m for m in h.messages("D" + REQUESTER[1:]) if m.get("blocks")]


def test_dm_and_assistant_thread(harness: Harness) -> None:
    h = harness
    r, ts = h.driver.dm("what counts as dehumanising?", user=REQUESTER, channel="DREQ01")
    assert r.status_code == 200
    h.settle()
    assert [m["thread_ts"] for m in h.messages("DREQ01")] == [ts]

    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": REQUESTER,
            "channel_id": "DREQ01",
            "thread_ts": "1800.1",
            "context": {},
        },
        "event_ts": "1800.2",
    }
    assert h.driver.event(started).status_code == 200
    h.settle()
    assert h.standin.calls_to("assistant.threads.setSuggestedPrompts")
    message = {
        "type": "message",
        "channel_type": "im",
        "user": REQUESTER,
        "text": "recommend C-9001",
        "ts": "1800.3",
        "thread_ts": "1800.1",
        "channel": "DREQ01",
        "event_ts": "1800.3",
    }
    assert h.driver.event(message).status_code == 200
    h.settle()
    assert h.standin.calls_to("assistant.threads.setStatus")
    replies = [
        m for m in h.messages("DREQ01") if m.get("thread_ts") == "1800.1" and m.get("blocks")
    ]
    assert "RECOMMENDATION" in render_text(replies[-1]["blocks"])


def test_help_and_bad_commands_answer_at_once(harness: Harness) -> None:
    h = harness
    assert (
        "/warden recommend CASE_ID"
        in h.driver.command("help", user=REQUESTER, channel=CHANNEL).text
    )
    assert "needs a CASE_ID" in h.driver.command("recommend", user=REQUESTER, channel=CHANNEL).text
    assert (
        "Unknown action"
        in h.driver.command(f"propose {CLUSTER} ban", user=REQUESTER, channel=CHANNEL).text
    )
    h.settle()
    assert h.warden.requests == []
