"""Small pieces: progress throttling, command parsing, card limits, the health endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from knowledge.vocabulary import ActionType, RestrictionType
from slackapp.approvals import ProgressUpdater
from slackapp.blocks import check_blocks, proposal_blocks, render_text
from slackapp.conversation import parse
from tests.slackapp.conftest import APPROVERS, CHANNEL, CLUSTER, REQUESTER, Harness
from tools.models import BlastRadius, FanoutProgress, PlannedAction, Proposal, StrikeEffect
from warden.errors import InputError


class RecordingClient:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def chat_update(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)


def test_progress_updates_are_rate_limited_but_the_end_always_shows() -> None:
    now = [0.0]
    client = RecordingClient()
    updater = ProgressUpdater(
        client, "C1", "1.1", lambda p: [], interval_s=1.0, clock=lambda: now[0]
    )
    for applied in range(0, 1000, 10):
        now[0] += 0.05  # a batch every 50 ms: 100 batches in 5 s
        updater(FanoutProgress(proposal_id="p", total=1000, applied=applied, failed=0))
    updater(FanoutProgress(proposal_id="p", total=1000, applied=1000, failed=0, done=True))
    assert 5 <= len(client.updates) <= 7  # about one per second, plus the final one
    assert client.updates[-1]["text"] == "Executing: 1000 of 1000"


@pytest.mark.parametrize(
    ("text", "verb", "arg", "action"),
    [
        ("<@UWARDENBOT> recommend C-1", "recommend", "C-1", None),
        ("propose cl-1 strike", "propose", "cl-1", ActionType.STRIKE),
        ("ESCALATE C-2 looks coordinated", "escalate", "C-2", None),
        ("is a rat meme hateful?", "ask", None, None),
        ("", "help", None, None),
        ("status", "status", None, None),
    ],
)
def test_parse(text: str, verb: str, arg: str | None, action: ActionType | None) -> None:
    command = parse(text)
    assert (command.verb, command.arg, command.action) == (verb, arg, action)


@pytest.mark.parametrize("text", ["recommend", "propose", "propose cl-1 ban", "ask"])
def test_parse_refuses_incomplete_commands(text: str) -> None:
    with pytest.raises(InputError):
        parse(text)


def test_a_huge_proposal_card_stays_within_block_kit_limits() -> None:
    now = datetime.now(UTC)
    actions = [
        PlannedAction(
            target_type="account",
            target_id=f"acct_{i}",
            action=ActionType.STRIKE,
            section_id="HA-2.1",
        )
        for i in range(5000)
    ]
    effects = [
        StrikeEffect(
            account_id=f"acct_{i}",
            active_before=2,
            added=1,
            active_after=3,
            window_days=90,
            threshold_crossed=RestrictionType.SUSPEND,
        )
        for i in range(5000)
    ]
    proposal = Proposal(
        id="prop_big",
        policy_id="HA",
        policy_version="3",
        section_ids=["HA-2.1"] * 30,
        action=ActionType.STRIKE,
        actions=actions,
        requester_id="U1",
        required_approvals=2,
        created_at=now,
        expires_at=now + timedelta(hours=4),
        action_hash="h" * 64,
    )
    blast = BlastRadius(
        total_actions=5000,
        content_count=0,
        account_count=5000,
        sample=actions[:5],
        sample_texts={a.target_id: "<!channel> " + "x" * 5000 for a in actions[:5]},
        strike_effects=effects,
    )
    blocks = proposal_blocks(proposal, blast, thread_id="C1:1.1")
    check_blocks(blocks)
    text = render_text(blocks)
    assert "Accounts crossing a strike threshold (5000)" in text
    assert "…and 4990 more accounts" in text


def test_status_lists_what_waits_for_the_user(harness: Harness) -> None:
    h = harness
    h.driver.command(f"propose {CLUSTER}", user=REQUESTER, channel=CHANNEL)
    h.settle()
    assert h.driver.command("status", user=APPROVERS[0], channel=CHANNEL).status_code == 200
    h.settle()
    # Through the command's response_url: it reaches the person even where Warden is not in.
    (status,) = [r for r in h.standin.responses if r.get("text") == "Your Warden status"]
    assert status["response_type"] == "ephemeral"
    text = render_text(status["blocks"])
    assert "Proposals waiting for your approval: 1" in text and "remove × 12" in text


def test_health_endpoint_needs_no_signature(harness: Harness) -> None:
    response = httpx.get(harness.server.endpoint.replace("/slack/events", "/healthz"))
    assert response.status_code == 200


def test_excerpts_and_rules_drafts_are_always_labelled_once() -> None:
    from agent.interface import PolicyAnswer
    from slackapp.blocks import answer_blocks

    bare = render_text(
        answer_blocks(
            PolicyAnswer(text="[HA-2.1] quoted text", citations=[], mode="excerpts"),
            thread_id="C:1",
        )
    )
    assert bare.count("excerpt") == 1
    labelled = render_text(
        answer_blocks(
            PolicyAnswer(
                text="Policy excerpts (quoted):\n[HA-2.1] x", citations=[], mode="excerpts"
            ),
            thread_id="C:1",
        )
    )
    assert labelled.lower().count("excerpts") == 1
