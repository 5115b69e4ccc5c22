"""The ops lead's figures: backlog per pod, TAT and handling time per pod and vendor team,
actions by automation; the DSA Art. 15/24 figures from the same statements."""

from __future__ import annotations

import io
from datetime import timedelta

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType
from tests.fixtures.appeals import decide_appeal, file_appeal
from tools import operations, proposals, transparency
from tools.fanout import execute
from tools.gateway import LocalPlatform
from tools.store import Store, utcnow


def test_backlog_tat_and_transparency_on_the_sample(
    sample_store: Store, catalogue: Catalogue
) -> None:
    store = sample_store
    created = proposals.create_proposal(
        store,
        catalogue,
        policy_id="HA",
        section_ids=["HA-2.1"],
        action=ActionType.REMOVE,
        targets=None,
        requester_id="U_REQUESTER",
        case_id="case-1001",
    )
    proposal = created.proposal
    for approver in ("U_LEAD1", "U_LEAD2")[: proposal.required_approvals]:
        assert proposals.approve(
            store, proposal.id, approver, proposal.action_hash, approvers={"U_LEAD1", "U_LEAD2"}
        ).accepted
    execute(store, LocalPlatform(store.engine), proposal.id, catalogue=catalogue)
    appeal = file_appeal(store, action_key="k", policy_id="HA", account_id="acct-1002")
    decide_appeal(store, appeal.id, outcome="upheld", decided_by="U9", reason="clear breach")
    now = utcnow() + timedelta(minutes=1)
    since = now - timedelta(days=60)

    ops = operations.compute(store, catalogue, since=since, now=now)
    pods = {b.pod: b for b in ops.backlog}
    # Sample cases name no policy: their classifier signals route them (hate -> critical-harms).
    assert pods["critical-harms"].open_cases >= 1
    assert all(
        b.oldest_age_hours and b.oldest_age_hours >= (b.median_age_hours or 0)
        for b in pods.values()
    )
    assert [(t.key, t.n) for t in ops.by_vendor_team] == [("bpo-lisbon", 1)]
    lisbon = ops.by_vendor_team[0]
    # case-1001 opened in November: its TAT is weeks, its handling (proposal -> approval) is not.
    assert lisbon.tat_median_minutes and lisbon.tat_median_minutes > 24 * 60
    assert lisbon.handling_median_minutes is not None
    assert lisbon.handling_median_minutes < lisbon.tat_median_minutes
    # The removal adds the author's strike (HA-5), which crosses the sample account's
    # suspension threshold: three applied consequences of one decision.
    assert [(a.action, a.automation, a.count) for a in ops.actions] == [
        ("remove", "partially", 1),
        ("strike", "partially", 1),
        ("suspend", "partially", 1),
    ]
    assert ops.actions_by_policy == {"HA": 3}

    figures = transparency.compute(store, catalogue, since=since, until=now)
    # The removal, the strike and the suspension it triggered each have a statement.
    assert figures.statements == 3 and figures.time_to_action_n == 2
    assert figures.suspensions == 1
    assert figures.notices_time_to_action_n == 0  # a classifier flag is not an Art. 16 notice
    assert [(c.key, c.count) for c in figures.appeals_by_outcome] == [("upheld", 1)]
    out = io.StringIO()
    assert transparency.write_csv(figures, out) > 5
    assert "actions by automation,detection Yes,AUTOMATED_DECISION_PARTIALLY,2" in out.getvalue()
