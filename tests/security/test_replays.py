"""2. Replays and retries: a replayed Approve, Events API retries, Socket Mode redelivery.

Pass: one effect each (one approval, one execution, one agent request, one reply).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from slackapp.blocks import APPROVE
from tests.security.conftest import (
    APP_TOKEN,
    APPROVERS,
    CHANNEL,
    REQUESTER,
    Cluster,
    Figures,
    landed,
    pending_proposal,
)
from tools.models import ProposalStatus


def test_the_same_signed_approve_50_times_executes_once(
    app_cluster: Cluster, figures: Figures
) -> None:
    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue, n=6)
    card = c.post_card(proposal)
    message = {k: v for k, v in card.items() if k != "_ref"}
    # One click, signed once, sent 50 times within the 5-minute window (a captured request).
    prepared = c.first.driver.prepare_click(
        APPROVE, card["_ref"], user=APPROVERS[0], channel=CHANNEL, message=message
    )
    started = time.monotonic()
    for _ in range(50):
        response = c.first.driver.send(prepared)
        figures.tried += 1
        if response.status_code >= 500:
            figures.server_errors += 1
    assert time.monotonic() - started < 60, "the replays must land inside one minute"
    c.settle()
    stored = c.store.get_proposal(proposal.id)
    figures.accepted = len(stored.approvals)
    figures.rejected = len(
        [e for e in c.standin.calls_to("chat.postEphemeral") if "not recorded" in e.args["text"]]
    )
    figures.lost, figures.duplicated = landed(c.store, stored)
    figures.duplicated += max(0, len(c.resumes()) - 1)
    assert stored.status == ProposalStatus.EXECUTED
    assert [a.approver_id for a in stored.approvals] == [APPROVERS[0]]
    assert len(c.resumes()) == 1
    assert (figures.lost, figures.duplicated, figures.server_errors) == (0, 0, 0)
    assert figures.rejected == 49  # every replay answered, none silent


def test_event_retries_1_to_3_are_handled_once(app_cluster: Cluster, figures: Figures) -> None:
    c = app_cluster
    rounds = 5
    for r in range(rounds):
        event = {
            "type": "app_mention",
            "user": REQUESTER,
            "text": "<@UWARDENBOT> is a meme comparing people to rats allowed?",
            "ts": f"1700{r}.000100",
            "channel": CHANNEL,
        }
        event_id = f"EvRETRY{uuid.uuid4().hex[:8].upper()}"
        for retry in (None, 1, 2, 3):
            response = c.first.driver.event(event, event_id=event_id, retry_num=retry)
            figures.tried += 1
            if response.status_code >= 500:
                figures.server_errors += 1
    c.settle()
    figures.accepted = len(c.first.warden.requests)
    figures.rejected = figures.tried - figures.accepted
    replies = [
        m for m in c.standin.messages.values() if str(m.get("thread_ts", "")).startswith("1700")
    ]
    figures.duplicated = max(0, len(replies) - rounds)
    figures.lost = max(0, rounds - len(replies))
    assert figures.accepted == rounds
    assert (figures.duplicated, figures.lost, figures.server_errors) == (0, 0, 0)


class _SocketClient:
    """What SocketModeHandler.handle needs of its client: where acks go, and a logger."""

    def __init__(self) -> None:
        import logging

        self.logger = logging.getLogger("tests.security.socket")
        self.acks: list[Any] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.acks.append(response)


def test_socket_mode_redelivery_is_handled_once(app_cluster: Cluster, figures: Figures) -> None:
    """The same envelope through Bolt's SocketModeHandler (what slackapp.socket.run starts)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.socket_mode.request import SocketModeRequest

    c = app_cluster
    handler = SocketModeHandler(c.first.app.bolt, APP_TOKEN)  # no connection is opened here
    client = _SocketClient()
    rounds = 4
    try:
        for r in range(rounds):
            event_id = f"EvSOCK{uuid.uuid4().hex[:8].upper()}"
            envelope = {
                "token": "legacy",
                "team_id": "T0WARDEN1",
                "api_app_id": "AWARDEN01",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": {
                    "type": "app_mention",
                    "user": REQUESTER,
                    "text": "<@UWARDENBOT> is this allowed?",
                    "ts": f"1800{r}.000200",
                    "channel": CHANNEL,
                },
            }
            # Redelivery: the same envelope again (no ack reached Slack), then a retry with a
            # new envelope id after a reconnect, carrying the same event.
            deliveries = [
                (f"env-{r}-a", None, None),
                (f"env-{r}-a", None, None),
                (f"env-{r}-b", 1, "timeout"),
                (f"env-{r}-c", 2, "timeout"),
            ]
            for envelope_id, attempt, reason in deliveries:
                request = SocketModeRequest(
                    type="events_api",
                    envelope_id=envelope_id,
                    payload=json.loads(json.dumps(envelope)),
                    retry_attempt=attempt,
                    retry_reason=reason,
                )
                handler.handle(client, request)  # type: ignore[arg-type]
                figures.tried += 1
        c.settle()
    finally:
        handler.client.close()
    assert len(client.acks) == figures.tried, "every delivery is acknowledged"
    figures.accepted = len(c.first.warden.requests)
    figures.rejected = figures.tried - figures.accepted
    replies = [
        m for m in c.standin.messages.values() if str(m.get("thread_ts", "")).startswith("1800")
    ]
    figures.duplicated = max(0, len(replies) - rounds)
    figures.lost = max(0, rounds - len(replies))
    assert figures.accepted == rounds
    assert (figures.duplicated, figures.lost) == (0, 0)
