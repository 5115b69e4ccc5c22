"""Slack that reaches people: App Home follows every change for every approver (coalesced),
citations link to the published policy, and nothing untrusted pings anyone through a
notification text; long questions are kept whole, server-side."""

from __future__ import annotations

import json
from pathlib import Path

from slackapp.triage import ESC_TAKE
from tests.slackapp.conftest import APPROVERS, CHANNEL, ONCALL, REQUESTER, Harness
from tests.slackapp.test_triage import _click, _open_p0


def _publishes(h: Harness, user: str) -> int:
    return sum(1 for c in h.standin.calls_to("views.publish") if c.args.get("user_id") == user)


def test_an_escalation_step_republishes_every_approvers_home(harness: Harness) -> None:
    h = harness
    esc = _open_p0(h)
    # Approvers: the settings' list and the approver group's members.
    for approver in APPROVERS:
        assert approver in h.standin.home_views, approver
    before = {u: _publishes(h, u) for u in [*APPROVERS, ONCALL, REQUESTER]}
    _click(h, esc.id, ESC_TAKE, ONCALL)
    for user in [*APPROVERS, ONCALL, REQUESTER]:  # approvers, the new owner, the opener
        assert _publishes(h, user) == before[user] + 1, user
    home = json.dumps(h.standin.home_views[ONCALL]["blocks"])
    assert esc.id in home  # the owner's Home lists the ticket it now holds


def test_a_burst_of_changes_publishes_each_home_once(harness: Harness) -> None:
    from slackapp.home import republish

    h = harness
    rt = h.app.runtime
    for _ in range(200):  # e.g. a 400-item fanout reporting progress, clicks a second apart
        republish(rt, h.app.client, {APPROVERS[0], APPROVERS[1]})
    h.settle()
    assert _publishes(h, APPROVERS[0]) == 1 and _publishes(h, APPROVERS[1]) == 1
    # Only Slack users have a Home (a detector proposing through the API has none).
    republish(rt, h.app.client, {"detector:symbols@1.0", ""})
    h.settle()
    assert not [c for c in h.standin.calls_to("views.publish") if "detector" in str(c.args)]
    # A later change is published again (the burst is over, not the refreshing).
    republish(rt, h.app.client, {APPROVERS[0]})
    h.settle()
    assert _publishes(h, APPROVERS[0]) == 2 and _publishes(h, APPROVERS[1]) == 1


def test_citations_link_to_the_published_policy_version(harness: Harness, tmp_path: Path) -> None:
    from slackapp.links import read_links

    h = harness
    links = read_links(h.app.runtime.settings.policies_dirs)
    # Each version links to its own document (HA v2 and v3 are both published).
    assert links[("HA", "3")] != links[("HA", "2")]
    assert all(url.startswith("https://") for url in links.values())
    # A document without a url, or broken front matter, gives no link and no error.
    (tmp_path / "plain.md").write_text("---\nid: ZZ\ntitle: Z\n---\nno url\n")
    (tmp_path / "broken.md").write_text("---\nid: [unclosed\n")
    assert read_links([tmp_path]) == {}
    h.driver.mention("is calling a group rats hateful?", user=REQUESTER, channel=CHANNEL)
    h.settle()
    answer = next(m for m in h.messages() if "Sources" in json.dumps(m.get("blocks", [])))
    assert f"<{links[('HA', '3')]}|HA-2.1>" in json.dumps(answer["blocks"])


def test_notification_texts_are_escaped_like_blocks(harness: Harness) -> None:
    h = harness
    # An unknown action echoes the person's word back: in the ack and nowhere as a ping.
    r = h.driver.command("propose cl_x <!channel>", user=REQUESTER, channel=CHANNEL)
    assert "<!channel>" not in r.text
    # A refused triage step answers with the store's message, escaped in text and blocks.
    from slackapp.approvals import tell_user

    tell_user(h.app.client, CHANNEL, REQUESTER, "Case <!here> <@UOTHER> not found")
    (told,) = h.standin.calls_to("chat.postEphemeral")
    assert "<!here>" not in told.args["text"] and "<@UOTHER>" not in told.args["text"]
    assert "<!here>" not in json.dumps(told.args["blocks"])
    from slackapp.blocks import section
    from slackapp.triage import dm

    dm(h.app.client, REQUESTER, "pod <!everyone> queue", [section("x")])
    (sent,) = [c for c in h.standin.calls_to("chat.postMessage") if "queue" in c.args["text"]]
    assert "<!everyone>" not in sent.args["text"]


def test_a_long_question_is_kept_whole_for_its_escalation(harness: Harness) -> None:
    from agent.interface import Intent
    from slackapp.threads import subject_of

    h = harness
    long_question = "is this hateful? " + "context " * 600 + "END-OF-QUESTION"
    _, ts = h.driver.mention(long_question, user=REQUESTER, channel=CHANNEL)
    h.settle()
    subject = subject_of(h.app.runtime, channel=CHANNEL, thread_ts=ts)
    assert subject is not None and subject.question.endswith("END-OF-QUESTION")
    ts_reply = h.standin.add_message(CHANNEL, "escalate", user=REQUESTER, thread_ts=ts)
    event = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": REQUESTER,
        "text": "escalate",
        "ts": ts_reply,
        "thread_ts": ts,
        "event_ts": ts_reply,
    }
    h.driver.event(event)
    h.settle()
    escalated = h.warden.requests[-1]
    assert escalated.intent == Intent.ESCALATE and escalated.text.endswith("END-OF-QUESTION")


def test_a_reply_slack_refuses_reaches_the_person_privately(harness: Harness) -> None:
    h = harness
    for error in ("channel_not_found", "invalid_blocks", "msg_too_long"):
        h.standin.refuse["chat.postMessage"] = error
        h.driver.mention(f"rats meme hateful? ({error})", user=REQUESTER, channel=CHANNEL)
        h.settle()
        told = h.standin.calls_to("chat.postEphemeral")[-1].args
        assert told["user"] == REQUESTER, error
        shown = json.dumps(told["blocks"])
        assert "dehumanising" in shown, error  # the answer itself, not only an apology
        if error == "channel_not_found":
            assert "cannot see this channel" in shown
        else:
            assert error in shown
    # Warden not in the channel and the ephemeral refused too: a DM carries the answer.
    h.standin.refuse.clear()
    h.standin.channels["private-room"] = "CPRIVATE01"
    h.standin.not_member.add("private-room")
    h.standin.refuse["chat.postEphemeral"] = "user_not_in_channel"
    h.driver.mention("rats meme hateful? (dm)", user=REQUESTER, channel="CPRIVATE01")
    h.settle()
    (opened,) = h.standin.calls_to("conversations.open")
    assert opened.args["users"] == REQUESTER
    dms = [
        c.args
        for c in h.standin.calls_to("chat.postMessage")
        if str(c.args.get("channel", "")).startswith("D")
    ]
    assert dms and "dehumanising" in json.dumps(dms[-1]["blocks"])
    assert "not in this channel" in json.dumps(dms[-1]["blocks"])
