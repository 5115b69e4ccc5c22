"""14. Approvals counted by stale facts: an approver removed from the group after approving, and
a replica whose clock runs behind the database's.

Pass: at the deciding click every counted approval is re-checked against the directory (a
removed approver's earlier approval no longer counts, the proposal stays pending); expiry is
judged by the database clock, so a replica 5 minutes slow accepts nothing after the deadline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slackapp.blocks import APPROVE
from tests.security.conftest import (
    APPROVERS,
    CHANNEL,
    USERGROUP,
    Cluster,
    Figures,
    decisions,
    pending_proposal,
)
from tools.models import ProposalStatus


def _click(c: Cluster, card: dict[str, Any], user: str) -> int:
    message = {k: v for k, v in card.items() if k != "_ref"}
    return int(
        c.first.driver.click(
            APPROVE, card["_ref"], user=user, channel=CHANNEL, message=message
        ).status_code
    )


def test_an_approver_removed_after_approving_no_longer_counts(
    app_cluster: Cluster, figures: Figures
) -> None:
    from tools.gateway import LocalPlatform

    c = app_cluster
    # HA is critical harm: two approvers. APPROVERS[0] and [1] are the group's members.
    proposal = pending_proposal(c.store, c.catalogue, section_id="HA-2.1")
    card = c.post_card(proposal)
    assert _click(c, card, APPROVERS[0]) == 200
    c.settle()
    assert decisions(c.store, proposal.id)["approval_recorded"] == 1
    c.standin.usergroups[USERGROUP] = [APPROVERS[1]]  # APPROVERS[0] leaves the group
    assert _click(c, card, APPROVERS[1]) == 200
    c.settle()
    stored = c.store.get_proposal(proposal.id)
    executed = len(LocalPlatform(c.store.engine).receipts(proposal.id))
    figures.tried = 1
    figures.accepted = int(stored.status != ProposalStatus.PENDING) + executed
    figures.rejected = int(stored.status == ProposalStatus.PENDING)
    assert stored.status == ProposalStatus.PENDING and executed == 0
    told = [e.args["text"] for e in c.standin.calls_to("chat.postEphemeral")]
    assert any("no longer count" in t for t in told), told


def test_a_slow_replica_clock_cannot_accept_an_expired_proposal(
    app_cluster: Cluster, figures: Figures
) -> None:
    from tools.store import utcnow
    from tools.tables import ProposalRow

    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue)
    with c.store.session() as s:  # expired a minute ago, by the database's clock
        row = s.get(ProposalRow, proposal.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    c.first.app.runtime.clock = lambda: utcnow() - timedelta(minutes=5)  # this replica is slow
    card = c.post_card(proposal)
    assert _click(c, card, APPROVERS[0]) == 200
    c.settle()
    stored = c.store.get_proposal(proposal.id)
    figures.tried = 1
    figures.accepted = int(bool(stored.approvals))
    figures.rejected = int(not stored.approvals)
    assert stored.status == ProposalStatus.EXPIRED and not stored.approvals
    told = [e.args["text"] for e in c.standin.calls_to("chat.postEphemeral")]
    assert any("expired" in t for t in told), told
