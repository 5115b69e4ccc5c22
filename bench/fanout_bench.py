"""Fanout throughput next to the raw insert rate of the same database, measured in the same run.

`python -m bench.fanout_bench [--json] [--actions 10000] [--workers 1 2 4] [--skip-postgres]`

For SQLite (a file in a temporary folder) and Postgres (a fresh database on 127.0.0.1, dropped
afterwards) it measures:
- raw: plain batched INSERTs (one multi-row statement per transaction of `batch` rows) of rows
  shaped like a ledger row, into a scratch table: the database's own ceiling for this row size;
- fanout: `tools.fanout.execute` on an approved proposal of `actions` content removals through
  the local platform (every action: ledger update, platform receipt and state, statement of
  reasons, audit event, all in one transaction per batch), single worker on SQLite and
  `--workers N` processes on Postgres;
and reports actions/s, raw rows/s and their ratio. Each run is checked (every action applied
once) before its figure is printed.

Batching the hot paths (2026-11-22). pyinstrument on a 3,000-removal SQLite fanout put
`reasons.issue_statements` at ~36% of the time (an ORM `StatementRow` and its flush per row,
a pydantic `SorInput` per item), then the audit append and the ledger update. Changes:
statements as one Core executemany, one statement built and validated per kind and copied for
the rest; `SorInput` validated once per batch; ledger marked with one Core executemany UPDATE;
`audit.append_batch` (no `AuditEvent` per row, lock still taken last); local platform receipts
built without re-validation; strikes through `strikes.apply_strikes` (set-based reads, one
ON CONFLICT insert instead of a savepoint and four SELECTs per strike). Same command
(`--json --workers 1 2 4`, 10,000 removals, batch 100), before and after runs interleaved on the
shared 2-core machine (1-minute load 6-10 throughout), actions/s (ratio to raw inserts):

  run            sqlite x1       postgres x1     postgres x2     postgres x4
  before 1       878 (0.023)     696 (0.043)     316 (0.020)     338 (0.021)
  before 2       382 (0.037)     429 (0.135)     416 (0.131)     304 (0.096)
  before 3       680 (0.011)     848 (0.101)     567 (0.068)     447 (0.053)
  before 4       550 (0.036)     416 (0.101)     719 (0.174)     664 (0.161)
  after 1      1,653 (0.032)     652 (0.074)   1,128 (0.128)   1,105 (0.126)
  after 2        999 (0.039)     499 (0.076)     329 (0.050)     581 (0.088)
  after 3        686 (0.052)     367 (0.164)     632 (0.283)     522 (0.233)

SQLite: median 615 -> 999 actions/s. Postgres: the load noise is as large as the change (its
time goes to round trips and the audit lock); medians x1 562 -> 499, x2 492 -> 632, x4 392 ->
581. The raw-insert rate moves as much between runs, so compare
ratios with care. Less noisy, in-process CPU time of one SQLite fanout (`execute` only):
removals 1,980-2,490 -> 2,960-3,480 actions per CPU-second; strikes (600 accounts) 213-249 ->
1,706-1,737 actions per CPU-second, wall 34-76 -> 366-585 actions/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, func, select

PG_ADMIN_URL = os.environ.get("WARDEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _raw_table(metadata: MetaData) -> Table:
    # The ledger row's shape, without its indexes' write amplification beyond a primary key.
    return Table(
        "bench_raw_rows",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("proposal_id", String(100)),
        Column("seq", Integer),
        Column("idempotency_key", String(255)),
        Column("target_type", String(16)),
        Column("target_id", String(100)),
        Column("action", String(32)),
        Column("section_id", String(64)),
        Column("status", String(16)),
        Column("attempts", Integer),
        Column("receipt_id", String(100)),
        Column("worker_id", String(100)),
        Column("applied_at", DateTime(timezone=True)),
        Column("last_error", Text),
    )


def raw_insert_rate(url: str, rows: int, batch: int) -> float:
    """Rows per second of plain batched INSERTs, one transaction per batch."""
    from datetime import UTC, datetime

    from tools.db import make_engine

    engine = make_engine(url)
    metadata = MetaData()
    table = _raw_table(metadata)
    metadata.create_all(engine)
    now = datetime.now(UTC)
    payload = [
        {
            "proposal_id": "prop_bench",
            "seq": i,
            "idempotency_key": f"prop_bench:content:pin-{i}:remove",
            "target_type": "content",
            "target_id": f"pin-{i}",
            "action": "remove",
            "section_id": "HA-2.3",
            "status": "applied",
            "attempts": 1,
            "receipt_id": f"rcpt-{uuid.uuid4().hex}",
            "worker_id": "bench",
            "applied_at": now,
            "last_error": None,
        }
        for i in range(rows)
    ]
    try:
        start = time.perf_counter()
        for offset in range(0, rows, batch):
            with engine.begin() as conn:
                conn.execute(table.insert(), payload[offset : offset + batch])
        elapsed = time.perf_counter() - start
    finally:
        metadata.drop_all(engine)
        engine.dispose()
    return rows / elapsed


def _seed(url: str, actions: int) -> str:
    from knowledge.catalogue import load_catalogue
    from tests.tools.fanout_child import seed_approved_proposal
    from tools.store import Store

    store = Store.open(url)
    try:
        return seed_approved_proposal(store, load_catalogue(), n=actions).id
    finally:
        store.close()


def _check(url: str, proposal_id: str, actions: int) -> None:
    """Refuse to report a figure for a run that did not apply everything exactly once."""
    from tools.fanout_tables import PlatformReceiptRow
    from tools.models import ProposalStatus
    from tools.store import Store

    store = Store.open(url, migrate=False)
    try:
        with store.session() as s:
            receipts = s.scalar(
                select(func.count())
                .select_from(PlatformReceiptRow)
                .where(
                    PlatformReceiptRow.proposal_id == proposal_id,
                    PlatformReceiptRow.deliveries == 1,
                )
            )
        state = store.get_proposal(proposal_id).status
    finally:
        store.close()
    if receipts != actions or state != ProposalStatus.EXECUTED:
        raise SystemExit(f"bench run is wrong: {receipts}/{actions} applied once, status {state}")


def _worker(url: str, proposal_id: str, batch: int, name: str, ready: Any, go: Any) -> None:
    # Imports and connections happen before the start signal: only the fanout is timed.
    from knowledge.catalogue import load_catalogue
    from tools.fanout import execute
    from tools.gateway import LocalPlatform
    from tools.store import Store
    from warden.errors import ApprovalError

    store = Store.open(url, migrate=False)
    catalogue = load_catalogue()
    with store.session():
        pass
    ready.release()
    go.wait()
    try:
        execute(
            store,
            LocalPlatform(store.engine),
            proposal_id,
            catalogue=catalogue,
            batch_size=batch,
            worker_id=name,
            progress=lambda _p: None,  # as in Slack: the per-batch progress query is included
        )
    except ApprovalError:
        pass  # started after the others finished: nothing left for it
    finally:
        store.close()


def fanout_rate(url: str, actions: int, batch: int, workers: int) -> dict[str, float]:
    """Actions per second of the fanout with `workers` processes, start signal to last exit."""
    proposal_id = _seed(url, actions)
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(url, proposal_id, batch, f"bench-{n}", ready, go))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    if any(proc.exitcode != 0 for proc in procs):
        raise SystemExit(f"a fanout worker failed on {url.split('@')[-1]}")
    _check(url, proposal_id, actions)
    return {"seconds": round(elapsed, 3), "actions_per_s": round(actions / elapsed, 1)}


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="warden-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str]:
    import psycopg

    name = f"warden_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(
    url: str, db: str, *, actions: int, batch: int, workers: list[int]
) -> list[dict[str, Any]]:
    from tools.store import Store

    Store.open(url).close()  # migrate once, outside every timing
    raw = raw_insert_rate(url, actions, batch)
    results = []
    for n in workers:
        fan = fanout_rate(url, actions, batch, n)
        results.append(
            {
                "db": db,
                "workers": n,
                "actions": actions,
                "batch_size": batch,
                **fan,
                "raw_insert_rows_per_s": round(raw, 1),
                "ratio": round(fan["actions_per_s"] / raw, 4),
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="Postgres workers")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)

    results: list[dict[str, Any]] = []
    with sqlite_url() as url:
        results += measure(url, "sqlite", actions=args.actions, batch=args.batch_size, workers=[1])
    postgres_note = None
    if not args.skip_postgres:
        try:
            with postgres_url() as url:
                results += measure(
                    url,
                    "postgres",
                    actions=args.actions,
                    batch=args.batch_size,
                    workers=args.workers,
                )
        except ImportError as exc:
            postgres_note = f"postgres skipped: {exc}"
        except Exception as exc:  # no server: report SQLite and say why Postgres is missing
            if "connect" not in str(exc).lower():
                raise
            postgres_note = f"postgres skipped: {exc}"
    report = {
        "what": "fanout actions/s vs raw batched INSERT rows/s of the same database, same run",
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "results": results,
        "note": postgres_note,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{'db':9} {'workers':>7} {'actions/s':>10} {'raw rows/s':>11} {'ratio':>7} {'seconds':>8}"
    )
    for r in results:
        print(
            f"{r['db']:9} {r['workers']:>7} {r['actions_per_s']:>10.1f} "
            f"{r['raw_insert_rows_per_s']:>11.1f} {r['ratio']:>7.4f} {r['seconds']:>8.2f}"
        )
    if postgres_note:
        print(postgres_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
