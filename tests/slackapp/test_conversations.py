"""Signed requests to the real app over HTTP; replies land in the right thread on the stand-in."""

from __future__ import annotations

from agent.interface import Intent
from slackapp.blocks import render_text
from tests.slackapp.conftest import CHANNEL, REQUESTER, Harness


def test_mention_question_is_answered_in_its_thread(harness: Harness) -> None:
    response, ts = harness.driver.mention(
        "does a meme calling a group rats violate HA?", user=REQUESTER, channel=CHANNEL
    )
    assert response.status_code == 200
    harness.settle()
    replies = [m for m in harness.messages() if m.get("thread_ts") == ts]
    assert len(replies) == 1
    text = render_text(replies[0]["blocks"])
    assert "dehumanising comparison" in text
    assert "HA-2.1 Dehumanising comparisons — HA v3" in text
    # The citation links to the published policy (its front matter's url).
    link = "<https://policies.lumen.example/community/hateful-activities|HA-2.1>"
    assert link in str(replies[0]["blocks"])
    request = harness.warden.requests[0]
    assert request.intent == Intent.ASK
    assert request.thread_id == f"{CHANNEL}:{ts}"
    assert request.text.startswith("does a meme")


def test_recommend_command_posts_the_card_in_a_thread(harness: Harness) -> None:
    response = harness.driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
    assert response.status_code == 200
    assert "Working on" in response.text
    harness.settle()
    parent, card = harness.messages()
    assert "recommend C-9001" in render_text(parent["blocks"])
    assert card["thread_ts"] == parent["ts"]
    text = render_text(card["blocks"])
    assert "RECOMMENDATION · CASE C-9001" in text
    assert "crosses into suspend" in text
    assert "[ Apply as my decision: remove ]" in text
    assert "[ Propose remove for approval ]" in text
    assert "Draft from the policy catalogue's rules" in text
