"""Fanout test support: seed an approved proposal, run the fanout as a killable child process,
and tally what landed (tried / lost / duplicated) from the platform, the ledger and the store.

`python -m tests.tools.fanout_child --url URL --proposal ID [--api-url URL]` runs one worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import Engine, func, insert, select

from knowledge.vocabulary import ActionType
from tools import proposals
from tools.fanout_tables import APPLIED, LedgerRow, PlatformReceiptRow, PlatformTargetRow
from tools.models import Proposal, ProposalStatus
from tools.tables import (
    AccountRow,
    AuditRow,
    ClusterItemRow,
    ClusterRow,
    ContentRow,
    StatementRow,
    StrikeRow,
)

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.store import Store

APPROVERS = {"U_APPROVER_1", "U_APPROVER_2"}
TOKEN = "child-token"


def seed_approved_proposal(
    store: Store,
    catalogue: Catalogue,
    *,
    n: int,
    action: ActionType = ActionType.REMOVE,
    section_id: str = "HA-2.3",
    authors: int | None = None,
) -> Proposal:
    """A detector cluster of `n` pins (or `n` authors, for account actions), proposed and approved.

    Rows are bulk-inserted (the bench seeds 10,000); the proposal goes through the real
    `create_proposal` and `approve`, so its hash and approvals are what production would have.
    """
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    account_action = action in {ActionType.STRIKE, ActionType.SUSPEND}
    n_authors = n if account_action else (authors or max(1, n // 10))
    n_items = n  # account actions: one pin per author, so the cluster names n authors
    account_ids = [f"acct-{tag}-{i}" for i in range(n_authors)]
    content_ids = [f"pin-{tag}-{i}" for i in range(n_items)]
    cluster_id = f"cluster-{tag}"
    section = catalogue.section(section_id)
    with store.session() as s:
        s.execute(
            insert(AccountRow),
            [{"id": a, "handle": a, "status": "active", "created_at": now} for a in account_ids],
        )
        s.execute(
            insert(ContentRow),
            [
                {
                    "id": c,
                    "kind": "pin",
                    "author_id": account_ids[i % n_authors],
                    "text": f"synthetic pin {i} matching test symbol {tag}",
                    "created_at": now,
                }
                for i, c in enumerate(content_ids)
            ],
        )
        s.add(
            ClusterRow(
                id=cluster_id,
                policy_id=section.policy_id,
                section_id=section_id,
                detector="test-detector",
                description=f"{n_items} synthetic pins for the fanout tests",
                created_at=now,
            )
        )
        s.flush()
        s.execute(
            insert(ClusterItemRow),
            [{"cluster_id": cluster_id, "content_id": c} for c in content_ids],
        )
    created = proposals.create_proposal(
        store,
        catalogue,
        policy_id=section.policy_id,
        section_ids=[section_id],
        action=action,
        targets=None,
        requester_id="U_REQUESTER",
        cluster_id=cluster_id,
        ttl=timedelta(hours=1),
    )
    proposal = created.proposal
    for approver in sorted(APPROVERS)[: proposal.required_approvals]:
        result = proposals.approve(
            store, proposal.id, approver, proposal.action_hash, approvers=APPROVERS
        )
        assert result.accepted, result.reason
    approved = store.get_proposal(proposal.id)
    assert approved.status == ProposalStatus.APPROVED
    return approved


class Tally(BaseModel):
    """What landed, counted from every place an action leaves a trace."""

    tried: int
    ledger_applied: int
    platform_applied: int
    lost: int
    duplicated: int
    redelivered: int
    audit_applied_events: int
    statements: int
    strikes: int
    proposal_status: ProposalStatus

    def line(self, label: str) -> str:
        return (
            f"[{label}] tried={self.tried} applied={self.platform_applied} lost={self.lost} "
            f"duplicated={self.duplicated} redelivered={self.redelivered} "
            f"audit={self.audit_applied_events} statements={self.statements} "
            f"strikes={self.strikes} "
            f"status={self.proposal_status.value}"
        )


def tally(
    store: Store,
    proposal: Proposal,
    *,
    remote_applied: Counter[str] | None = None,
    remote_deliveries: Counter[str] | None = None,
) -> Tally:
    """Compare the intended set with the platform (local tables or the stand-in's counters)."""
    from tools.fanout import idempotency_key

    intended = {idempotency_key(proposal.id, a) for a in proposal.actions}
    struck = {
        idempotency_key(proposal.id, a) for a in proposal.actions if a.action == ActionType.STRIKE
    }
    with store.session() as s:
        ledger = set(
            s.scalars(
                select(LedgerRow.idempotency_key).where(
                    LedgerRow.proposal_id == proposal.id, LedgerRow.status == APPLIED
                )
            )
        )
        audit = Counter(
            s.scalars(select(AuditRow.subject).where(AuditRow.verb == "action.applied"))
        )
        statements = set(
            s.scalars(
                select(StatementRow.action_key).where(
                    StatementRow.action_key.startswith(f"{proposal.id}:")
                )
            )
        )
        strike_keys = Counter(
            k
            for k in s.scalars(select(StrikeRow.source_action_key))
            if k is not None and k.startswith(f"{proposal.id}:")
        )
        if remote_applied is None:
            receipts = s.execute(
                select(PlatformReceiptRow.idempotency_key, PlatformReceiptRow.deliveries).where(
                    PlatformReceiptRow.proposal_id == proposal.id
                )
            ).all()
            applications = Counter({k: 1 for k, _d in receipts})
            deliveries = Counter({k: d for k, d in receipts})
            # Each target's counter for this action must be 1: a second application shows here.
            over = s.scalar(
                select(func.count())
                .select_from(PlatformTargetRow)
                .where(
                    (PlatformTargetRow.removals > 1)
                    | (PlatformTargetRow.labels > 1)
                    | (PlatformTargetRow.limits > 1)
                    | (PlatformTargetRow.strikes > 1)
                    | (PlatformTargetRow.suspensions > 1)
                )
            )
        else:
            applications = remote_applied
            deliveries = remote_deliveries or Counter()
            over = 0
    applied = set(applications)
    duplicated = (
        sum(n - 1 for n in applications.values() if n > 1)
        + int(over or 0)
        + sum(n - 1 for k, n in audit.items() if k in intended and n > 1)
        + sum(n - 1 for n in strike_keys.values() if n > 1)
        + len(applied - intended)
    )
    return Tally(
        tried=len(intended),
        ledger_applied=len(ledger & intended),
        platform_applied=len(applied & intended),
        lost=len(intended - applied)
        + len(intended - ledger)
        + len(intended - statements)
        + len(struck - set(strike_keys)),
        duplicated=duplicated,
        redelivered=sum(n - 1 for n in deliveries.values() if n > 1),
        audit_applied_events=sum(n for k, n in audit.items() if k in intended),
        statements=len(statements & intended),
        strikes=len(strike_keys),
        proposal_status=store.get_proposal(proposal.id).status,
    )


def show(capsys: Any, line: str) -> None:
    """Print a counts line into the normal test output (no `-s` needed)."""
    with capsys.disabled():
        print(f"\n{line.strip()}", flush=True)


def applied_count(engine: Engine, proposal_id: str) -> int:
    """How many ledger rows are applied (the kill test polls this from outside the child)."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(LedgerRow)
                .where(LedgerRow.proposal_id == proposal_id, LedgerRow.status == APPLIED)
            )
            or 0
        )


def run_worker(
    url: str,
    proposal_id: str,
    *,
    api_url: str | None = None,
    batch_size: int = 20,
    worker_id: str | None = None,
    batch_pause_s: float = 0.0,
) -> int:
    """One fanout worker: its own engine, the local platform or the enforcement API.

    `batch_pause_s` slows the worker between batches so a test's kill can land mid-run even
    when a fast fanout on a busy machine would otherwise finish between two polls.
    """
    import time

    import httpx

    from knowledge.catalogue import load_catalogue
    from tools.fanout import execute
    from tools.gateway import EnforcementGateway, HttpGateway, LocalPlatform
    from tools.store import Store
    from warden.errors import ApprovalError

    store = Store.open(url, migrate=False)
    gateway: EnforcementGateway
    if api_url:
        client = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2.0
        )
        gateway = HttpGateway(client, max_attempts=20, backoff_s=0.01, max_backoff_s=0.2)
    else:
        gateway = LocalPlatform(store.engine)
    try:
        result = execute(
            store,
            gateway,
            proposal_id,
            catalogue=load_catalogue(),
            batch_size=batch_size,
            worker_id=worker_id,
            progress=(lambda _progress: time.sleep(batch_pause_s)) if batch_pause_s else None,
        )
    except ApprovalError:
        # A worker that starts after the others finished finds the proposal executed: fine.
        if store.get_proposal(proposal_id).status == ProposalStatus.EXECUTED:
            print("worker found the proposal already executed", flush=True)
            return 0
        raise
    print(result.model_dump_json(), flush=True)
    return 0


def forked_worker(
    url: str, proposal_id: str, log: str, api_url: str | None, batch_size: int, worker_id: str
) -> None:
    """Entry point of a forked worker: output to `log`, exit code from `run_worker`."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = sys.stdout
    code = run_worker(url, proposal_id, api_url=api_url, batch_size=batch_size, worker_id=worker_id)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--proposal", required=True)
    parser.add_argument("--api-url", default=None, help="enforcement API; local platform if unset")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--batch-pause-s", type=float, default=0.0)
    args = parser.parse_args(argv)
    return run_worker(
        args.url,
        args.proposal,
        api_url=args.api_url,
        batch_size=args.batch_size,
        worker_id=args.worker_id,
        batch_pause_s=args.batch_pause_s,
    )


if __name__ == "__main__":
    sys.exit(main())
