"""A detector's proposal through the API, end to end on one port: the card is posted in the pod
channel, an approver approves it on the card (a signed Slack request to the same server), the
fanout executes it and the webhook outbox holds the approval and every applied action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from knowledge.catalogue import Catalogue
from slackapp.blocks import APPROVE
from tests.api.conftest import DETECTOR_KEY, KEYS, bearer, open_gate, submission
from tools.gates import load_gates
from tools.models import ProposalStatus
from tools.outbox import OutboxRow
from tools.store import Store

SECRET = "i17-test-signing-secret-5d1e"
APPROVER = "UAPPROVER1"


@pytest.fixture
def app_with_api(sqlite_store: Store, catalogue: Catalogue, gates_path: Path) -> Iterator[Any]:
    from agent.checkpoint import sqlite_checkpoints
    from agent.graph import build_graph
    from agent.service import Warden
    from api.app import build_api
    from slackapp.api_cards import SlackProposalNotifier
    from slackapp.app import build_app
    from slackapp.driver import SlackDriver
    from slackapp.http import start_in_thread, with_api
    from slackapp.standin import StandIn
    from tools.gateway import LocalPlatform
    from warden.integrations import parse_api_keys
    from warden.settings import Settings

    gates = load_gates(gates_path)
    open_gate(sqlite_store, gates)
    checkpoints = sqlite_checkpoints(str(gates_path.parent / "checkpoints.sqlite"))
    graph = build_graph(
        model=None,
        retriever=None,  # type: ignore[arg-type]  # approvals never retrieve
        catalogue=catalogue,
        checkpointer=checkpoints.saver,
        store=sqlite_store,
        gateway=LocalPlatform(sqlite_store.engine),
        gates=gates,
    )
    warden = Warden(graph)
    from tests.slackapp.conftest import route_channels

    # Slack is addressed by channel id: the workspace has the catalogue's pod channels.
    standin = StandIn(channels=route_channels(catalogue)).start()
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=standin.url,
        WARDEN_APPROVERS=[APPROVER],
        WARDEN_APPROVER_USERGROUP=None,
    )
    slack = build_app(settings, warden=warden, store=sqlite_store, progress_interval_s=0.0)
    api = build_api(
        store=sqlite_store,
        catalogue=catalogue,
        gates=gates,
        keys=parse_api_keys(KEYS),
        notifier=SlackProposalNotifier(slack.runtime, slack.client, warden),
    )
    server = start_in_thread(with_api(slack.asgi(), api))
    driver = SlackDriver(server.endpoint, SECRET)
    try:
        yield server, slack, standin, driver, sqlite_store
    finally:
        driver.close()
        server.stop()
        slack.drain(30)
        slack.close()
        standin.stop()
        checkpoints.close()


def test_api_proposal_is_approved_on_its_card_and_executed(app_with_api: Any) -> None:
    server, slack, standin, driver, store = app_with_api
    base = f"http://127.0.0.1:{server.port}"
    response = httpx.post(
        f"{base}/api/v1/proposals", json=submission(4), headers=bearer(DETECTOR_KEY), timeout=30
    )
    assert response.status_code == 201, response.text
    proposal_id = response.json()["proposal"]["id"]
    assert slack.drain(60)
    posted = slack.runtime.ledger.post("proposal", proposal_id)
    assert posted is not None and posted.channel == standin.channels["ts-integrity"]
    card = {**standin.messages[(posted.channel, posted.ts)], "ts": posted.ts}
    value = next(
        e["value"]
        for b in card["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == APPROVE
    )
    clicked = driver.click(APPROVE, value, user=APPROVER, channel=posted.channel, message=card)
    assert clicked.status_code == 200
    assert slack.drain(60)
    assert store.get_proposal(proposal_id).status is ProposalStatus.EXECUTED
    with store.session() as s:
        types = list(s.scalars(select(OutboxRow.event_type).order_by(OutboxRow.seq)))
    assert types == ["proposal.approved"] + ["action.applied"] * 4
    # The outcome is reported in the card's own thread.
    replies = [m for (ch, _ts), m in standin.messages.items() if m.get("thread_ts") == posted.ts]
    assert any(proposal_id in str(m.get("blocks")) for m in replies)
