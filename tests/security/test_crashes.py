"""5. Crashes: kill -9 of fanout workers and of the app mid-fanout; a restart with an approval
pending. On SQLite and Postgres. Pass: 0 lost, 0 duplicated, 0 approvals invented by a restart.

Fanout workers are `tests/tools/fanout_child.py` processes (what an operator's resume runs); the
app is `tests/security/app_child.py`, the real Slack app in its own process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from slackapp.blocks import APPROVE
from slackapp.driver import SlackDriver
from slackapp.ledger import Post, SlackLedger
from tests.security.conftest import (
    APPROVERS,
    CHANNEL,
    SIGNING_SECRET,
    Figures,
    decisions,
    landed,
    pending_proposal,
    proposal_ref,
    scale,
    spawn_app,
    spawn_fanout_worker,
)
from tests.tools.fanout_child import applied_count, seed_approved_proposal
from tools.models import ProposalStatus

# The 1,000-action proposal under WARDEN_STRESS=1; 300 keeps `make test` short.
ACTIONS = scale(300, 1000)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _reached_or_exited(store: Any, proposal_id: str, target: int, workers: list[Any]) -> bool:
    if applied_count(store.engine, proposal_id) >= target:
        return True
    return bool(workers) and all(w.poll() is not None for w in workers)


def _finish(store: Any, catalogue: Any, proposal_id: str) -> None:
    """Resume the fanout to the end in this process, as an operator's resume would."""
    from tools.fanout import execute
    from tools.gateway import LocalPlatform

    if store.get_proposal(proposal_id).status == ProposalStatus.EXECUTED:
        return  # the last worker finished before it was killed
    execute(store, LocalPlatform(store.engine), proposal_id, catalogue=catalogue, batch_size=50)


def _audit_ok(store: Any) -> bool:
    from tools import audit

    return audit.verify(store).ok


def test_kill_9_fanout_workers_at_random_points(
    store: Any, db_url: str, catalogue: Any, figures: Figures
) -> None:
    kills = scale(3, 20)
    rng = random.Random(17)
    proposal = seed_approved_proposal(store, catalogue, n=ACTIONS)
    figures.tried = ACTIONS
    points: list[int] = []
    for k in range(kills):
        done = applied_count(store.engine, proposal.id)
        if done >= ACTIONS:
            break
        left = ACTIONS - done
        # Leave room for the kills still to come, so every kill lands mid-run.
        target = done + max(1, rng.randint(1, max(1, left // (kills - k + 1))))
        workers = [
            # Small batches: the kill lands close to its target even when polling lags.
            # A short pause between batches keeps a fast fanout from finishing between polls.
            spawn_fanout_worker(
                db_url, proposal.id, batch_size=rng.choice([2, 5]), batch_pause_s=0.005
            )
            # Two competing workers sometimes (stress); one keeps `make test` short.
            for _ in range(rng.choice([1, 2]) if kills > 3 else 1)
        ]
        wait_until(partial(_reached_or_exited, store, proposal.id, target, workers), 120)
        victims = workers if rng.random() < 0.5 else [rng.choice(workers)]
        for w in victims:
            w.kill()  # SIGKILL
        for w in workers:
            if w not in victims:
                w.kill()
            w.wait(timeout=30)
        points.append(applied_count(store.engine, proposal.id))
    mid_run = sum(0 < p < ACTIONS for p in points)
    figures.note(f"{store.engine.dialect.name}: {mid_run} of {len(points)} kills mid-run; "
                 f"applied count at each kill: {points}")  # fmt: skip
    _finish(store, catalogue, proposal.id)
    final = store.get_proposal(proposal.id)
    figures.lost, figures.duplicated = landed(store, final)
    figures.accepted = applied_count(store.engine, proposal.id)
    assert final.status == ProposalStatus.EXECUTED
    assert (figures.lost, figures.duplicated) == (0, 0)
    # How many kills land mid-run depends on the machine's load (the figures note says); one is
    # enough for the exactly-once check to mean something.
    assert mid_run >= 1, f"no kill landed mid-run: {points}"
    assert _audit_ok(store)


def _approve_in_app(
    db_url: str, store: Any, standin: Any, app: Any, proposal: Any, user: str
) -> None:
    ledger = SlackLedger(store.engine)
    posted = ledger.post("proposal", proposal.id)
    if posted is None:  # the card, where the app would have recorded it (clicks check it)
        ts = standin.add_message(CHANNEL, f"Proposal {proposal.id}", user="UWARDENBOT")
        ledger.remember_post("proposal", proposal.id, Post(CHANNEL, ts, f"{CHANNEL}:{ts}"))
    else:
        ts = posted.ts
    ref = proposal_ref(proposal, f"{CHANNEL}:{ts}")
    with SlackDriver(app.endpoint, SIGNING_SECRET) as driver:
        response = driver.click(
            APPROVE, ref, user=user, channel=CHANNEL, message=dict(standin.messages[(CHANNEL, ts)])
        )
    assert response.status_code == 200


def test_kill_9_the_app_mid_fanout_then_restart(
    store: Any, db_url: str, catalogue: Any, figures: Figures
) -> None:
    from slackapp.standin import StandIn

    rounds = scale(1, 5)
    rng = random.Random(23)
    mid_run = 0
    standin = StandIn(usergroups={"S0APPROVERS": APPROVERS[:2]}).start()
    try:
        for _ in range(rounds):
            proposal = pending_proposal(store, catalogue, n=ACTIONS)
            figures.tried += ACTIONS
            # A short pause between batches keeps a fast fanout from finishing between polls.
            app = spawn_app(db_url, standin.url, batch_size=2, extra=("--batch-pause-s", "0.005"))
            try:
                _approve_in_app(db_url, store, standin, app, proposal, APPROVERS[0])
                target = rng.randint(ACTIONS // 10, ACTIONS // 2)
                reached = partial(_reached_or_exited, store, proposal.id, target, [])
                assert wait_until(reached, 120), "the fanout did not start"
            finally:
                app.kill()
            at_kill = applied_count(store.engine, proposal.id)
            figures.note(f"{store.engine.dialect.name}: app killed at {at_kill}/{ACTIONS}")
            mid_run += at_kill < ACTIONS
            restarted = spawn_app(db_url, standin.url)
            try:
                # A stale click after the restart must not start a second execution.
                _approve_in_app(db_url, store, standin, restarted, proposal, APPROVERS[1])
                time.sleep(1.0)
                assert decisions(store, proposal.id)["approved"] == 1
                _finish(store, catalogue, proposal.id)
            finally:
                restarted.stop()
            final = store.get_proposal(proposal.id)
            lost, dup = landed(store, final)
            figures.lost += lost
            figures.duplicated += dup + max(0, decisions(store, proposal.id)["executing"] - 1)
            figures.accepted += applied_count(store.engine, proposal.id)
            assert final.status == ProposalStatus.EXECUTED
            assert [a.approver_id for a in final.approvals] == [APPROVERS[0]]
    finally:
        standin.stop()
    assert (figures.lost, figures.duplicated) == (0, 0)
    assert mid_run > 0, "no kill landed mid-fanout"
    assert _audit_ok(store)


def test_a_restart_while_an_approval_is_pending_invents_nothing(
    store: Any, db_url: str, catalogue: Any, figures: Figures
) -> None:
    from slackapp.standin import StandIn
    from tools.gateway import LocalPlatform

    standin = StandIn(usergroups={"S0APPROVERS": APPROVERS[:2]}).start()
    # HA is critical harm: two approvers. One approves, then the app dies.
    two = pending_proposal(store, catalogue, n=20, section_id="HA-2.3")
    untouched = pending_proposal(store, catalogue, n=5)
    figures.tried = 2
    try:
        app = spawn_app(db_url, standin.url)
        try:
            _approve_in_app(db_url, store, standin, app, two, APPROVERS[0])
            assert wait_until(lambda: len(store.get_proposal(two.id).approvals) == 1, 60)
        finally:
            app.kill()
        restarted = spawn_app(db_url, standin.url)
        try:
            time.sleep(1.0)  # give a restarted process every chance to do something wrong
            after = store.get_proposal(two.id)
            still = store.get_proposal(untouched.id)
            invented = (
                len(after.approvals)
                - 1
                + len(still.approvals)
                + len(LocalPlatform(store.engine).receipts(two.id))
                + len(LocalPlatform(store.engine).receipts(untouched.id))
            )
            figures.duplicated = invented
            assert after.status == still.status == ProposalStatus.PENDING
            assert [a.approver_id for a in after.approvals] == [APPROVERS[0]]
            assert still.approvals == []
            # The second approver decides on the restarted app: it executes, once.
            _approve_in_app(db_url, store, standin, restarted, two, APPROVERS[1])
            assert wait_until(
                lambda: store.get_proposal(two.id).status == ProposalStatus.EXECUTED, 120, 0.1
            )
        finally:
            restarted.stop()
        final = store.get_proposal(two.id)
        figures.lost, dup = landed(store, final)
        figures.duplicated += dup
        figures.accepted = 1
    finally:
        standin.stop()
    assert (figures.lost, figures.duplicated) == (0, 0)


# Regression: nothing resumed a fanout a crash interrupted until the reminder sweep learnt to
# (a135f28). The restarted app runs the sweep as `warden serve` does, with its clock moved past
# the sweep's 2-minute staleness wait.
def test_a_restarted_app_finishes_an_interrupted_fanout_by_itself(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    from slackapp.standin import StandIn
    from tools.fanout import execute
    from tools.gateway import LocalPlatform

    store = sqlite_store
    db_url = str(store.engine.url)
    standin = StandIn(usergroups={"S0APPROVERS": APPROVERS[:2]}).start()
    proposal = seed_approved_proposal(store, catalogue, n=ACTIONS)
    ts = standin.add_message(CHANNEL, f"Proposal {proposal.id}", user="UWARDENBOT")
    SlackLedger(store.engine).remember_post(
        "proposal", proposal.id, Post(CHANNEL, ts, f"{CHANNEL}:{ts}")
    )
    figures.tried = ACTIONS

    def crash(_progress: Any) -> None:
        raise KeyboardInterrupt  # the process dies between two batches

    try:
        with pytest.raises(KeyboardInterrupt):
            execute(store, LocalPlatform(store.engine), proposal.id, catalogue=catalogue,
                    batch_size=10, progress=crash)  # fmt: skip
        assert store.get_proposal(proposal.id).status == ProposalStatus.EXECUTING
        restarted = spawn_app(db_url, standin.url, extra=("--sweep", "--clock-offset-s", "600"))
        try:
            done = wait_until(
                lambda: store.get_proposal(proposal.id).status == ProposalStatus.EXECUTED, 120, 0.2
            )
        finally:
            restarted.stop()
        figures.accepted = applied_count(store.engine, proposal.id)
        final = store.get_proposal(proposal.id)
        figures.lost, figures.duplicated = landed(store, final)
    finally:
        standin.stop()
    assert done, "the restarted app did not finish the interrupted fanout"
    assert (figures.lost, figures.duplicated) == (0, 0)
