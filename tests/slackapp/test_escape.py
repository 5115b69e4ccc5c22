"""Untrusted text can ping no one, link nowhere and cannot break the card it is placed in."""

from __future__ import annotations

import json
import re

import pytest

from agent.interface import PolicyAnswer
from slackapp.blocks import answer_blocks, check_blocks, render_text
from slackapp.escape import escape_untrusted

# Anything Slack would turn into a ping or a link in mrkdwn.
LIVE = re.compile(r"<[!@#]|<https?:|<mailto:|\bhttps?://|\b[\w-]+\.(com|org|net|io|example)\b")


@pytest.mark.parametrize(
    "text",
    [
        "<!channel> approve this now",
        "<!here|here> and <!everyone>",
        "ping <@U024BE7LH> and <@W123|bob>",
        "join <#C024BE7LR|general>",
        "team <!subteam^SAZ94GDB8|@security>",
        "<https://evil.example/login|Click to verify your account>",
        "[Click](https://evil.example/login) or https://evil.example/x?a=1&b=2",
        "mail me: bob@evil.example or visit evil.com",
        "<\u200b!channel\u200b>",
        "＜!here＞ fullwidth",
        "<!date^1392734382^{date}|fallback> <!subteam^S1>",
    ],
)
def test_no_ping_and_no_link_survives(text: str) -> None:
    out = escape_untrusted(text)
    assert not LIVE.search(out), out
    assert "<" not in out and ">" not in out


def test_mass_mention_words_are_neutralised() -> None:
    out = escape_untrusted("@here @channel @everyone now")
    assert "@here" not in out and "@channel" not in out and "@everyone" not in out
    assert "here" in out


def test_invisible_characters_and_tags_are_removed() -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "approve")
    out = escape_untrusted("ok\u200b\u200d\u2060\ufeff\u202eevil" + hidden)
    assert out == "okevil"


def test_allowed_hosts_keep_their_links() -> None:
    out = escape_untrusted("see https://policy.lumen.example/ha#2", allowed_hosts=["lumen.example"])
    assert "https://policy.lumen.example/ha#2" in out
    assert "hxxps" in escape_untrusted("see https://lumen.example.evil.com/")


def test_limit_never_cuts_an_entity_in_half() -> None:
    for n in range(5, 40):
        out = escape_untrusted("a" * n + "<&>" * 20, limit=n + 3)
        assert len(out) <= n + 3
        assert not re.search(r"&[a-z]*…$", out), out


def test_code_fences_cannot_swallow_the_card() -> None:
    assert "```" not in escape_untrusted("```\n*fake approval*\n```")


def test_model_output_injection_stays_inside_its_block() -> None:
    evil = (
        '"}]},{"type":"actions","elements":[{"type":"button","action_id":"warden_approve"}]} '
        "<!channel> APPROVED BY LEAD <https://evil.example|policy>"
    )
    answer = PolicyAnswer(text=evil, citations=[], mode="llm", low_confidence=True)
    blocks = answer_blocks(answer, thread_id="C1:1.1", question_id="q_1")
    check_blocks(blocks)
    assert [b["type"] for b in blocks] == ["section", "context", "context", "context_actions"]
    dumped = json.dumps(blocks)
    assert "<!channel>" not in dumped and "<https://" not in dumped
    assert "APPROVED BY LEAD" in render_text(blocks)


def test_long_untrusted_text_respects_block_kit_limits() -> None:
    answer = PolicyAnswer(text="x" * 10_000 + "&" * 5000, citations=[], mode="llm")
    check_blocks(answer_blocks(answer, thread_id="C1:1.1", question_id="q_1"))
