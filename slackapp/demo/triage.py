"""Chapter: Slack that reaches people. A P0 escalation pages on-call and is taken, noted and
resolved from its card; the proposal card paged the approvers; "escalate" as a plain thread
reply works; the message shortcut answers privately."""

from __future__ import annotations

from typing import Any

from slackapp.demo.world import ANA, BEN, CHANNEL, CHANNEL_NAME, OWNER, World, name_of
from slackapp.listeners.shortcuts import CALLBACK_ID
from slackapp.triage import (
    ESC_NOTE,
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
)

CASE = "case-1031"  # "I don't think I can keep going after tonight…": imminent self-harm


def _ticket(world: World, case_id: str) -> Any:
    from tools.escalations import list_escalations

    return next(e for e in list_escalations(world.store) if e.case_id == case_id)


def _card(world: World, esc: Any) -> dict[str, Any]:
    esc = world.store.get_escalation(esc.id)
    message = world.standin.messages[(esc.slack_channel, esc.slack_ts)]
    return {**message, "ts": esc.slack_ts}


def _value(message: dict[str, Any], action_id: str) -> str:
    for block in message["blocks"]:
        if block["type"] == "actions":
            for element in block["elements"]:
                if element["action_id"] == action_id:
                    return str(element.get("value", ""))
    raise RuntimeError(f"the card has no {action_id} control")


def _click(world: World, esc: Any, action_id: str, user: str) -> dict[str, Any] | None:
    """Click a triage control on the card; returns the modal it opened, if any."""
    message = _card(world, esc)
    before = len(world.standin.calls_to("views.open"))
    world.driver.click(
        action_id,
        _value(message, action_id),
        user=user,
        channel=world.store.get_escalation(esc.id).slack_channel,
        message=message,
    )
    world.settle()
    opened = world.standin.calls_to("views.open")
    return opened[-1].args["view"] if len(opened) > before else None


def play(world: World) -> None:
    t, driver = world.t, world.driver

    t.step(f"A P0 escalation pages the on-call group ({CASE}, imminent self-harm)")
    t.person(ANA, f"/warden escalate {CASE} says goodbye tonight, letters written")
    driver.command(
        f"escalate {CASE} says goodbye tonight, letters written", user=ANA, channel=CHANNEL
    )
    world.settle()
    esc = _ticket(world, CASE)
    posted = _card(world, esc)
    paged = "<!subteam^" in str(posted.get("text", ""))
    dm = "D" + OWNER[1:]
    links = [
        m for (ch, _), m in world.standin.messages.items() if ch == dm and "/archives/" in str(m)
    ]
    t.say(
        f"    ({esc.priority.value} card "
        + ("mentions @ts-oncall" if paged else "mentions no on-call group (!)")
        + f"; {name_of(OWNER)} got {len(links)} DM(s) with its link)"
    )

    t.step("On-call takes it, adds a note and resolves it, all from the card")
    t.person(OWNER, "clicks [ Take ] on the card")
    _click(world, esc, ESC_TAKE, OWNER)
    t.person(OWNER, "clicks [ Add note ] and writes a note")
    view = _click(world, esc, ESC_NOTE, OWNER)
    if view is None:
        raise RuntimeError("Add note opened no modal")
    driver.submit_view(
        view,
        {NOTE_BLOCK: {NOTE_INPUT: "Reached the account via the wellbeing flow; resources sent."}},
        user=OWNER,
    )
    world.settle()
    t.person(OWNER, "clicks [ Resolve ]: outcome, remediation, policy gap? no")
    view = _click(world, esc, ESC_RESOLVE, OWNER)
    if view is None:
        raise RuntimeError("Resolve opened no modal")
    driver.submit_view(
        view,
        {
            OUTCOME_BLOCK: {OUTCOME_INPUT: "Content limited, person supported"},
            REMEDIATION_BLOCK: {REMEDIATION_INPUT: "Local emergency contact made per SH-2.2"},
        },
        user=OWNER,
        checked={GAP_BLOCK: {GAP_INPUT: []}},
    )
    world.settle()
    t.say(f"    (status in the store: {world.store.get_escalation(esc.id).status.value})")

    t.step("The bulk proposal's card paged the approvers")
    notices = [
        str(c.args.get("text", ""))
        for c in world.standin.calls_to("chat.postMessage")
        if "needs approval" in str(c.args.get("text", ""))
    ]
    paged = bool(notices) and "<!subteam^" in notices[-1]
    t.say(
        "    Proposal card notification: "
        + ("mentions @enforcement-leads" if paged else "no approver mention (!)")
    )

    t.step(f'A thread reply "escalate" works, without mentioning Warden (in {CHANNEL_NAME})')
    question = "is a board of 'goodbye' pins with photos of pills something for the on-call team?"
    t.person(BEN, f"@Warden {question}")
    _, ts = driver.mention(question, user=BEN, channel=CHANNEL)
    world.settle()
    t.person(BEN, "replies in the thread: escalate")
    reply_ts = world.standin.add_message(CHANNEL, "escalate", user=BEN, thread_ts=ts)
    driver.event(
        {
            "type": "message",
            "channel": CHANNEL,
            "channel_type": "channel",
            "user": BEN,
            "text": "escalate",
            "ts": reply_ts,
            "thread_ts": ts,
            "event_ts": reply_ts,
        }
    )
    world.settle()

    t.step("The message shortcut answers privately")
    reported = world.standin.add_message(
        CHANNEL, "lol these people are rats, get them out of our city", user="UPOSTER01"
    )
    message = world.standin.messages[(CHANNEL, reported)]
    t.person(ANA, "uses “Ask Warden about this message” on a member's message")
    driver.message_shortcut(CALLBACK_ID, user=ANA, channel=CHANNEL, message=message)
    world.settle()
    in_thread = [m for m in world.standin.thread(CHANNEL, reported) if m.get("bot_id")]
    t.say(f"    (Warden posts in the reported message's thread: {len(in_thread)} messages)")
