"""4. Authorisation: clicks by people who may not decide, and tampered button values.

Pass: 0 executions, every refusal audited (a `refused` event on the proposal) and answered.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from slackapp.blocks import APPROVE
from tests.security.conftest import (
    APPROVERS,
    CHANNEL,
    OUTSIDER,
    REQUESTER,
    USERGROUP,
    Cluster,
    Figures,
    decisions,
    pending_proposal,
)
from tools.models import ProposalStatus


def _message(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k != "_ref"}


def _click(
    c: Cluster,
    card: dict[str, Any],
    user: str,
    value: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> int:
    prepared = c.first.driver.prepare_click(
        APPROVE, value or card["_ref"], user=user, channel=CHANNEL, message=_message(card)
    )
    if overrides:
        body, headers = prepared
        from urllib.parse import parse_qs, urlencode

        payload = json.loads(parse_qs(body.decode())["payload"][0])
        for key, val in overrides.items():
            payload[key] = val
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = c.first.driver.headers(body, "application/x-www-form-urlencoded")
        prepared = (body, headers)
    return int(c.first.driver.send(prepared).status_code)


def _executions(c: Cluster, proposal_id: str) -> int:
    from tools.gateway import LocalPlatform

    resumed = [d for d in c.resumes() if d.proposal_id == proposal_id]
    return len(resumed) + len(LocalPlatform(c.store.engine).receipts(proposal_id))


def _tally(c: Cluster, figures: Figures, proposal: Any, clicks: int) -> dict[str, int]:
    c.settle()
    counted = decisions(c.store, proposal.id)
    figures.tried += clicks
    figures.rejected += counted["refused"]
    figures.accepted += _executions(c, proposal.id) + len(
        c.store.get_proposal(proposal.id).approvals
    )
    return counted


def test_non_approvers_and_the_requester_are_refused_and_audited(
    app_cluster: Cluster, figures: Figures
) -> None:
    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue, requester=APPROVERS[0])
    card = c.post_card(proposal)
    clickers = [OUTSIDER, REQUESTER, APPROVERS[0], "U0NOBODY", "W0GRIDUSER", "USLACKBOT"]
    for user in clickers:
        assert _click(c, card, user) == 200
    counted = _tally(c, figures, proposal, len(clickers))
    assert c.store.get_proposal(proposal.id).status == ProposalStatus.PENDING
    assert figures.accepted == 0
    assert counted["refused"] == len(clickers), counted
    refusals = [
        e for e in c.standin.calls_to("chat.postEphemeral") if "not recorded" in e.args["text"]
    ]
    assert len(refusals) == len(clickers)
    assert any("requester cannot approve" in e.args["text"] for e in refusals)


def test_tampered_hash_is_refused_and_audited(app_cluster: Cluster, figures: Figures) -> None:
    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    good = json.loads(card["_ref"])
    tampered = [
        {**good, "action_hash": "0" * 64},
        # One changed hex digit (a fixed "0" would equal the real hash one time in sixteen).
        {
            **good,
            "action_hash": good["action_hash"][:-1]
            + ("1" if good["action_hash"][-1] == "0" else "0"),
        },
        {**good, "action_hash": good["action_hash"].upper()},
        {**good, "action_hash": ""},
    ]
    for value in tampered:
        assert _click(c, card, APPROVERS[0], json.dumps(value)) == 200
    counted = _tally(c, figures, proposal, len(tampered))
    assert figures.accepted == 0
    assert counted["refused"] == len(tampered)
    assert c.store.get_proposal(proposal.id).status == ProposalStatus.PENDING


# Regression: clicks carrying another workspace's team id used to execute; fixed in 8034700.
def test_a_click_from_another_workspace_is_refused(app_cluster: Cluster, figures: Figures) -> None:
    """The signing secret is per app, not per workspace: the team id must be checked too."""
    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    evil = {"id": "T0OTHERWS", "domain": "elsewhere"}
    status = _click(
        c,
        card,
        APPROVERS[0],
        overrides={"team": evil, "user": {"id": APPROVERS[0], "team_id": "T0OTHERWS"}},
    )
    assert status in (200, 401, 403)
    counted = _tally(c, figures, proposal, 1)
    if status in (401, 403) and counted["refused"] == 0:
        figures.rejected += 1  # refused at the door, before any listener
    if figures.accepted:
        figures.note("a click carrying another workspace's team id was executed")
    assert figures.accepted == 0


# Regression: the approver group was cached 60 s for decisions; fixed in 8034700 (read fresh).
def test_an_approver_removed_after_posting_is_refused(
    app_cluster: Cluster, figures: Figures
) -> None:
    c = app_cluster
    warm = pending_proposal(c.store, c.catalogue)
    assert _click(c, c.post_card(warm), OUTSIDER) == 200  # the group has been read once
    c.settle()
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    c.standin.usergroups[USERGROUP] = [APPROVERS[1]]  # APPROVERS[0] leaves the group
    assert _click(c, card, APPROVERS[0]) == 200
    _tally(c, figures, proposal, 1)
    assert figures.accepted == 0
    assert c.store.get_proposal(proposal.id).status == ProposalStatus.PENDING


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "{}",
        '{"proposal_id": "prop_doesnotexist", "action_hash": "00", "thread_id": "C:1"}',
        '{"proposal_id": "x\' OR 1=1 --", "action_hash": "00", "thread_id": "C:1"}',
    ],
    ids=["not-json", "empty", "unknown-id", "sql-ish-id"],
)
def test_tampered_proposal_ids_execute_nothing(
    app_cluster: Cluster, figures: Figures, value: str
) -> None:
    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    assert _click(c, card, APPROVERS[0], value) == 200
    _tally(c, figures, proposal, 1)
    figures.rejected += 1 if not c.resumes() else 0
    assert figures.accepted == 0 and c.resumes() == []
    assert c.store.get_proposal(proposal.id).status == ProposalStatus.PENDING


# Regression: forged / unknown proposal ids in a button value were not audited; fixed in 8034700.
def test_clicks_with_forged_proposal_ids_are_audited(
    app_cluster: Cluster, figures: Figures
) -> None:
    from tools import audit

    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    before = len(audit.events(c.store))
    forged = [
        "not json",
        '{"proposal_id": "prop_doesnotexist", "action_hash": "00", "thread_id": "C:1"}',
    ]
    for value in forged:
        assert _click(c, card, APPROVERS[0], value) == 200
    c.settle()
    figures.tried += len(forged)
    new = audit.events(c.store)[before:]
    figures.rejected += len(new)
    assert len(new) == len(forged), [e.verb for e in new]
