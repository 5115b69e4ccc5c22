"""No dead ends: thread replies and edits reach Warden, "escalate" in a thread works, failures
are answered to the person, a sign of life comes first, answers stream, feedback is stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent.interface import Intent, WardenRequest, WardenResponse
from slackapp.blocks import FEEDBACK
from tests.slackapp.conftest import CHANNEL, REQUESTER, Harness

BOT = "UWARDENBOT"


def _reply(h: Harness, text: str, *, thread_ts: str, user: str = REQUESTER) -> str:
    ts = h.standin.add_message(CHANNEL, text, user=user, thread_ts=thread_ts)
    event = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "event_ts": ts,
    }
    assert h.driver.event(event).status_code == 200
    h.settle()
    return ts


def test_thread_replies_reach_warden_and_escalate_works(harness: Harness) -> None:
    h = harness
    _, ts = h.driver.mention("is calling a group rats hateful?", user=REQUESTER, channel=CHANNEL)
    h.settle()
    assert len(h.warden.requests) == 1
    # A sign of life came first: the status line in the thread.
    (status,) = h.standin.calls_to("assistant.threads.setStatus")
    assert status.args["thread_ts"] == ts
    _reply(h, "and what about calling them cockroaches?", thread_ts=ts)
    follow = h.warden.requests[-1]
    assert follow.thread_id == f"{CHANNEL}:{ts}" and "cockroaches" in follow.text
    _reply(h, "escalate", thread_ts=ts)
    escalated = h.warden.requests[-1]
    assert escalated.intent == Intent.ESCALATE and escalated.thread_id == f"{CHANNEL}:{ts}"
    assert "calling a group rats hateful" in escalated.text  # the thread's subject
    # A reply in a thread Warden is not part of is left alone.
    other = h.standin.add_message(CHANNEL, "lunch?", user="UOTHER001")
    before = len(h.warden.requests)
    _reply(h, "sure", thread_ts=other, user="UOTHER001")
    assert len(h.warden.requests) == before
    # A reply that mentions Warden is answered once (as app_mention), not twice.
    event = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": REQUESTER,
        "text": f"<@{BOT}> thanks",
        "ts": "1900.1",
        "thread_ts": ts,
        "event_ts": "1900.1",
    }
    h.driver.event(event)
    h.settle()
    assert len(h.warden.requests) == before


def test_escalate_in_a_recommendation_thread_escalates_the_case(harness: Harness) -> None:
    h = harness
    _, ts = h.driver.mention("recommend C-9001", user=REQUESTER, channel=CHANNEL)
    h.settle()
    _reply(h, "escalate please, looks coordinated", thread_ts=ts)
    escalated = h.warden.requests[-1]
    assert escalated.intent == Intent.ESCALATE and escalated.case_id == "C-9001"


def test_edited_question_is_answered_again_deleted_left_alone(harness: Harness) -> None:
    h = harness
    _, ts = h.driver.mention("is a rat meme hateful?", user=REQUESTER, channel=CHANNEL)
    h.settle()
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "channel_type": "channel",
        "hidden": True,
        "ts": "1950.1",
        "event_ts": "1950.1",
        "message": {
            "type": "message",
            "user": REQUESTER,
            "text": f"<@{BOT}> is a cockroach meme hateful?",
            "ts": ts,
            "edited": {"user": REQUESTER, "ts": "1950.1"},
        },
        "previous_message": {
            "type": "message",
            "user": REQUESTER,
            "text": "is a rat meme?",
            "ts": ts,
        },
    }
    assert h.driver.event(edited).status_code == 200
    h.settle()
    assert len(h.warden.requests) == 2 and "cockroach" in h.warden.requests[-1].text
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": CHANNEL,
        "channel_type": "channel",
        "hidden": True,
        "deleted_ts": ts,
        "ts": "1960.1",
        "event_ts": "1960.1",
        "previous_message": {"type": "message", "user": REQUESTER, "text": "x", "ts": ts},
    }
    assert h.driver.event(deleted).status_code == 200
    h.settle()
    assert len(h.warden.requests) == 2


def test_command_in_a_channel_warden_is_not_in_answers_through_response_url(
    harness: Harness,
) -> None:
    h = harness
    h.standin.channels["private-room"] = "CPRIVATE01"
    h.standin.not_member.add("private-room")
    r = h.driver.command("ask is this hateful?", user=REQUESTER, channel="CPRIVATE01")
    assert r.status_code == 200 and "Working on" in r.text
    h.settle()
    assert h.warden.requests, "the question still reached the agent"
    (answer,) = h.standin.responses
    assert answer["response_type"] == "ephemeral"
    assert "not in this channel" in json.dumps(answer["blocks"])
    assert "dehumanising" in json.dumps(answer["blocks"])


class StreamingWarden:
    """The agent with issue 12's `on_token`: it writes its answer a token at a time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def handle(
        self, request: WardenRequest, *, on_token: Callable[[str], None] | None = None
    ) -> WardenResponse:
        response = self.inner.handle(request)
        if on_token is not None:
            for word in ["Yes:", "<!channel>", "it", "is", "a", "dehumanising", "comparison."]:
                on_token(word + " ")
        return response

    def resume(self, *args: Any, **kwargs: Any) -> WardenResponse:
        return self.inner.resume(*args, **kwargs)


def test_answers_stream_then_show_the_cited_answer_and_take_feedback(harness: Harness) -> None:
    from tools.feedback import feedback_stats
    from tools.store import utcnow

    h = harness
    h.app.runtime.warden = StreamingWarden(h.warden)
    _, ts = h.driver.mention("is calling a group rats hateful?", user=REQUESTER, channel=CHANNEL)
    h.settle()
    from slackapp.standin import stream_text

    (start,) = h.standin.calls_to("chat.startStream")
    appended = "".join(stream_text(c.args) for c in h.standin.calls_to("chat.appendStream"))
    streamed = stream_text(start.args) + appended
    assert "dehumanising" in streamed and "<!channel>" not in streamed  # tokens are escaped
    assert h.standin.calls_to("chat.stopStream")
    (update,) = [c for c in h.standin.calls_to("chat.update") if c.args.get("ts")]
    final = h.standin.messages[(CHANNEL, str(update.args["ts"]))]
    assert final["thread_ts"] == ts and "HA-2.1" in json.dumps(final["blocks"])
    kinds = [b["type"] for b in final["blocks"]]
    assert "context_actions" in kinds  # feedback buttons on every answer
    click = {
        "type": "block_actions",
        "user": {"id": REQUESTER, "username": "r", "team_id": h.driver.team_id},
        "container": {"type": "message", "message_ts": update.args["ts"], "channel_id": CHANNEL},
        "channel": {"id": CHANNEL},
        "message": final,
        "actions": [{"type": "feedback_buttons", "action_id": FEEDBACK, "value": "good"}],
    }
    assert h.driver._interaction(click).status_code == 200
    h.settle()
    assert any("noted as helpful" in t for t in h.ephemerals(REQUESTER))
    from datetime import timedelta

    stats = feedback_stats(h.store, since=utcnow() - timedelta(hours=1), until=utcnow())
    assert (stats.answers, stats.good, stats.bad) == (1, 1, 0)
    from agent.prompts import PROMPT_VERSION

    assert stats.by_prompt[0].prompt_version == PROMPT_VERSION  # stamped on every answer


def test_recorded_payloads_parse_with_slack_sdk_and_stay_within_limits(
    harness: Harness,
) -> None:
    from slackapp.callcheck import check_calls

    h = harness
    h.driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
    h.driver.command("escalate C-9001 imminent threat", user=REQUESTER, channel=CHANNEL)
    h.driver.command("propose cl_test_symbols", user=REQUESTER, channel=CHANNEL)
    h.driver.mention("is calling a group rats hateful?", user=REQUESTER, channel=CHANNEL)
    h.settle()
    h.driver.home_opened(user="UAPPROVER1")
    h.settle()
    checked, problems = check_calls({"method": c.method, "args": c.args} for c in h.standin.calls)
    assert checked >= 5 and problems == []


def test_a_refused_stream_still_gets_the_answer_and_a_refused_status_gets_a_reaction(
    harness: Harness,
) -> None:
    h = harness
    h.app.runtime.warden = StreamingWarden(h.warden)
    h.standin.refuse["chat.startStream"] = "not_allowed_token_type"
    h.standin.refuse["assistant.threads.setStatus"] = "not_allowed"
    text = f"<@{BOT}> is calling a group rats hateful?"
    ts = h.standin.add_message(CHANNEL, text, user=REQUESTER)
    mention = {"type": "app_mention", "user": REQUESTER, "text": text, "ts": ts, "channel": CHANNEL}
    assert h.driver.event({**mention, "event_ts": ts}).status_code == 200
    h.settle()
    answers = [m for m in h.messages() if m.get("bot_id") and m.get("thread_ts") == ts]
    assert len(answers) == 1 and "HA-2.1" in json.dumps(answers[0]["blocks"])
    assert [r["name"] for r in h.standin.reactions] == ["eyes"]  # the sign of life, instead
