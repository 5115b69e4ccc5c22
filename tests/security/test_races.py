"""3. Races: Approve vs Reject 50 ms apart, one approver clicking 10 times, two app processes.

Pass: exactly one decision per proposal (counted in the audit trail and in the agent's resumes),
and an approved proposal's actions land exactly once.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slackapp.blocks import APPROVE, REASON_BLOCK, REASON_INPUT, RejectMeta, reject_modal
from slackapp.driver import SlackDriver
from slackapp.ledger import Post, SlackLedger
from tests.security.conftest import (
    APPROVERS,
    CHANNEL,
    SIGNING_SECRET,
    Cluster,
    Figures,
    decisions,
    landed,
    pending_proposal,
    proposal_ref,
    scale,
    spawn_app,
)
from tools.models import ProposalStatus


def _send(driver: SlackDriver, prepared: Any) -> int:
    return int(driver.send(prepared).status_code)


def _reject(driver: SlackDriver, view: dict[str, Any]) -> int:
    values = {REASON_BLOCK: {REASON_INPUT: "wrong cluster"}}
    return int(driver.submit_view(view, values, user=APPROVERS[1]).status_code)


def _message(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k != "_ref"}


def _reject_view(card: dict[str, Any], ref: str) -> dict[str, Any]:
    from slackapp.blocks import ProposalRef

    parsed = ProposalRef.model_validate_json(ref)
    meta = RejectMeta(**parsed.model_dump(), channel=CHANNEL, message_ts=card["ts"])
    return reject_modal(meta)


def _check_one_decision(
    c: Cluster, proposal: Any, figures: Figures, *, resumes: dict[str, int]
) -> ProposalStatus:
    stored = c.store.get_proposal(proposal.id)
    counted = decisions(c.store, proposal.id)
    final = counted["approved"] + counted["rejected"]
    figures.accepted += final
    figures.rejected += counted["refused"]
    if final != 1 or resumes.get(proposal.id, 0) != 1:
        figures.duplicated += max(0, final - 1) + max(0, resumes.get(proposal.id, 0) - 1)
        figures.note(f"{proposal.id}: {counted} resumes={resumes.get(proposal.id, 0)}")
    if stored.status == ProposalStatus.EXECUTED:
        lost, dup = landed(c.store, stored)
        figures.lost += lost
        figures.duplicated += dup + max(0, counted["executing"] - 1)
    elif stored.status != ProposalStatus.REJECTED:
        figures.lost += 1
        figures.note(f"{proposal.id} ended {stored.status}")
    return ProposalStatus(stored.status)


def _resumes(c: Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in c.resumes():
        out[d.proposal_id] = out.get(d.proposal_id, 0) + 1
    return out


def test_approve_and_reject_50ms_apart(two_replicas: Cluster, figures: Figures) -> None:
    c = two_replicas
    trials = scale(10, 100)
    rng = random.Random(3)
    made = []
    for i in range(trials):
        proposal = pending_proposal(c.store, c.catalogue, n=3)
        card = c.post_card(proposal)
        made.append(proposal)
        a, b = c.replicas[i % 2].driver, c.replicas[(i + 1) % 2].driver
        approve = a.prepare_click(
            APPROVE, card["_ref"], user=APPROVERS[0], channel=CHANNEL, message=_message(card)
        )
        view = _reject_view(card, card["_ref"])

        def reject(driver: SlackDriver = b, view: dict[str, Any] = view) -> int:
            values = {REASON_BLOCK: {REASON_INPUT: "not spam after all"}}
            return driver.submit_view(view, values, user=APPROVERS[1]).status_code

        first_approve = rng.random() < 0.5
        with ThreadPoolExecutor(2) as pool:
            if first_approve:
                f1 = pool.submit(_send, a, approve)
                time.sleep(0.05)
                f2 = pool.submit(reject)
            else:
                f1 = pool.submit(reject)
                time.sleep(0.05)
                f2 = pool.submit(_send, a, approve)
            codes = [f1.result(), f2.result()]
        figures.tried += 2
        figures.server_errors += sum(code >= 500 for code in codes)
    c.settle()
    resumes = _resumes(c)
    outcomes = [_check_one_decision(c, p, figures, resumes=resumes) for p in made]
    figures.note(
        f"approved first: {outcomes.count(ProposalStatus.EXECUTED)}, "
        f"rejected first: {outcomes.count(ProposalStatus.REJECTED)}"
    )
    assert figures.accepted == trials
    assert (figures.lost, figures.duplicated, figures.server_errors) == (0, 0, 0)


def test_one_approver_clicking_10_times(two_replicas: Cluster, figures: Figures) -> None:
    c = two_replicas
    trials = scale(10, 100)
    made = []
    for _ in range(trials):
        proposal = pending_proposal(c.store, c.catalogue, n=3)
        card = c.post_card(proposal)
        made.append(proposal)
        clicks = [
            c.replicas[k % 2].driver.prepare_click(
                APPROVE, card["_ref"], user=APPROVERS[0], channel=CHANNEL, message=_message(card)
            )
            for k in range(10)
        ]
        with ThreadPoolExecutor(10) as pool:
            codes = list(
                pool.map(
                    lambda k, jobs=clicks: c.replicas[k % 2].driver.send(jobs[k]).status_code,
                    range(10),
                )
            )
        figures.tried += 10
        figures.server_errors += sum(code >= 500 for code in codes)
    c.settle()
    resumes = _resumes(c)
    for p in made:
        assert _check_one_decision(c, p, figures, resumes=resumes) == ProposalStatus.EXECUTED
        assert len(c.store.get_proposal(p.id).approvals) == 1
    assert figures.accepted == trials and figures.rejected == 9 * trials
    assert (figures.lost, figures.duplicated, figures.server_errors) == (0, 0, 0)


def test_two_app_processes_taking_clicks_for_the_same_proposal(
    db_url: str, catalogue: Any, figures: Figures
) -> None:
    """Two OS processes over one store: approvers' clicks and a reject land on either."""
    from slackapp.standin import StandIn
    from tools.store import Store

    store = Store.open(db_url)
    standin = StandIn(usergroups={"S0APPROVERS": APPROVERS[:2]}).start()
    apps = [spawn_app(db_url, standin.url, batch_size=3) for _ in range(2)]
    drivers = [SlackDriver(a.endpoint, SIGNING_SECRET) for a in apps]
    trials = scale(10, 100)
    rng = random.Random(11)
    made: list[Any] = []
    try:
        for _ in range(trials):
            proposal = pending_proposal(store, catalogue, n=6)
            ts = standin.add_message(CHANNEL, f"Proposal {proposal.id}", user="UWARDENBOT")
            SlackLedger(store.engine).remember_post(
                "proposal", proposal.id, Post(CHANNEL, ts, f"{CHANNEL}:{ts}")
            )
            ref = proposal_ref(proposal, f"{CHANNEL}:{ts}")
            message = dict(standin.messages[(CHANNEL, ts)])
            made.append(proposal)
            jobs = []
            for k in range(6):
                user = APPROVERS[k % 3]
                d = drivers[rng.randrange(2)]
                jobs.append(d.prepare_click(APPROVE, ref, user=user, channel=CHANNEL,
                                            message=message))  # fmt: skip
            view = _reject_view(message, ref)
            with ThreadPoolExecutor(7) as pool:
                futures = [pool.submit(_send, drivers[i % 2], j) for i, j in enumerate(jobs)]
                futures.append(pool.submit(_reject, drivers[rng.randrange(2)], view))
                codes = [f.result() for f in futures]
            figures.tried += len(codes)
            figures.server_errors += sum(code >= 500 for code in codes)
        # Bounded wait for both processes to finish their queued work.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [store.get_proposal(p.id).status for p in made]
            if all(s in (ProposalStatus.EXECUTED, ProposalStatus.REJECTED) for s in states):
                break
            time.sleep(0.2)
        time.sleep(0.5)  # the last refusals are audited after the final decision
        for p in made:
            counted = decisions(store, p.id)
            final = counted["approved"] + counted["rejected"]
            figures.accepted += final
            figures.rejected += counted["refused"]
            stored = store.get_proposal(p.id)
            if final != 1:
                figures.duplicated += abs(final - 1)
                figures.note(f"{p.id}: {counted}")
            if stored.status == ProposalStatus.EXECUTED:
                lost, dup = landed(store, stored)
                figures.lost += lost
                figures.duplicated += dup + max(0, counted["executing"] - 1)
            elif stored.status != ProposalStatus.REJECTED:
                figures.lost += 1
                figures.note(f"{p.id} ended {stored.status}")
    finally:
        for d in drivers:
            d.close()
        for a in apps:
            a.stop()
        standin.stop()
        store.close()
    assert figures.accepted == trials
    assert (figures.lost, figures.duplicated, figures.server_errors) == (0, 0, 0)
