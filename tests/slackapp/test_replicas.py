"""Two replicas behind one load balancer: the store decides, so they agree (SQLite, Postgres)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slackapp.blocks import APPLY, APPROVE, render_text
from slackapp.driver import SlackDriver
from slackapp.standin import StandIn
from tests.slackapp.conftest import (
    APPROVERS,
    CHANNEL,
    REQUESTER,
    SECRET,
    load_cluster,
    start_replica,
)
from tools.models import ProposalStatus


def _value(card: dict[str, Any], action_id: str) -> str:
    return next(
        el["value"]
        for b in card["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el["action_id"] == action_id
    )


def test_clicks_spread_over_two_replicas_make_one_decision(store: Any, catalogue: Any) -> None:
    load_cluster(store)
    standin = StandIn(usergroups={"S0APPROVERS": APPROVERS[:2]}).start()
    replicas = [start_replica(store, catalogue, standin) for _ in range(2)]
    drivers = [SlackDriver(server.endpoint, SECRET) for _, server, _ in replicas]
    try:
        # A recommendation's Apply button proposes enforcement on the case itself.
        drivers[0].command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
        replicas[0][0].drain(30)
        rec = next(
            m
            for (_, _), m in standin.messages.items()
            if m.get("text", "").startswith("Recommendation")
        )
        drivers[1].click(APPLY, _value(rec, APPLY), user=REQUESTER, channel=CHANNEL, message=rec)
        replicas[1][0].drain(30)
        (card,) = [
            m for m in standin.messages.values() if m.get("text", "").startswith("Proposal ")
        ]
        pid = card["text"].split()[1]
        assert store.get_proposal(pid).case_id == "C-9001"

        # Both approvers double-click, each click landing on either replica, all at once;
        # a Slack retry of the same click may reach the other replica too.
        clicks = [(d, user) for user in APPROVERS[:2] for d in drivers] * 2
        with ThreadPoolExecutor(len(clicks)) as pool:
            responses = list(
                pool.map(
                    lambda c: c[0].click(
                        APPROVE, _value(card, APPROVE), user=c[1], channel=CHANNEL, message=card
                    ),
                    clicks,
                )
            )
        assert all(r.status_code == 200 for r in responses)
        for app, _, _ in replicas:
            assert app.drain(60)
        proposal = store.get_proposal(pid)
        assert proposal.status == ProposalStatus.EXECUTED
        assert sorted(a.approver_id for a in proposal.approvals) == sorted(APPROVERS[:2])
        resumes = [d for _, _, warden in replicas for d in warden.resumes]
        assert len(resumes) == 1, "exactly one replica executes"
        refusals = [
            c for c in standin.calls_to("chat.postEphemeral") if "not recorded" in c.args["text"]
        ]
        assert len(refusals) == len(clicks) - 2
        final = standin.messages[(CHANNEL, card["ts"])]
        assert "Executed" in render_text(final["blocks"])
    finally:
        for d in drivers:
            d.close()
        for app, server, _ in replicas:
            server.stop()
            app.drain(30)
            app.close()
        standin.stop()
