"""Load figure for the HTTP API: case submissions per second and latency percentiles.

    python -m bench.api_load [--db sqlite|postgres|both] [--requests 2000] [--concurrency 8]

The API runs in its own process (uvicorn on loopback, one worker, a fresh store); this process
is the load: `--concurrency` clients, each posting distinct cases (`POST /api/v1/cases`, the
same JSON as a line of `warden cases import`) until `--requests` have been sent. Every request
is a real submission: authenticated, validated, stored with its items and account, audited.
A bounded run, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

KEY = "bench-api-load-key-" + "0" * 24
PG_ADMIN = os.environ.get("WARDEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def serve(url: str, port: int) -> None:
    """The server process: the API alone over a fresh store (what `warden serve` mounts)."""
    import uvicorn

    from api.app import build_api
    from knowledge.catalogue import load_catalogue
    from tools.gates import load_gates
    from tools.store import Store
    from warden.integrations import parse_api_keys

    store = Store.open(url)
    asgi = build_api(
        store=store,
        catalogue=load_catalogue(),
        gates=load_gates(),
        keys=parse_api_keys(f"bench:{KEY}:cases+read"),
    )
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def case(n: int, run: str) -> dict[str, Any]:
    return {
        "id": f"L-{run}-{n}",
        "opened_at": "2026-11-20T10:00:00Z",
        "source": "user_report",
        "items": [
            {
                "id": f"L-{run}-{n}-pin",
                "author_id": f"acct-{run}-{n % 97}",
                "text": f"reported pin {n} with a link to a promo page",
            }
        ],
        "reports": [{"reporter_id": f"rep-{n % 13}", "reason": "spam"}],
        "signals": {"spam_classifier": 0.91},
        "policy_id": "SP",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load(base: str, requests: int, concurrency: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as http:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                began = time.perf_counter()
                response = http.post(f"{base}/api/v1/cases", json=case(n, run))
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "statuses": statuses,
        "seconds": round(wall, 2),
        "rate_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(pct(0.50), 1),
        "p99_ms": round(pct(0.99), 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def measure(db: str, requests: int, concurrency: int) -> dict[str, Any]:
    cleanup = None
    if db == "sqlite":
        folder = tempfile.mkdtemp(prefix="api-load-")
        url = f"sqlite:///{Path(folder) / 'warden.db'}"
    else:
        import psycopg

        name = f"warden_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + (
            f"/{name}"
        )

        def cleanup() -> None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.api_load", "--serve", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                _out, err = server.communicate()
                raise RuntimeError(f"the API server did not start: {err[-2000:]}")
            time.sleep(0.2)
        load(base, min(100, requests), concurrency)  # warm-up: connections, first queries
        figures = load(base, requests, concurrency)
        figures["db"] = db
        return figures
    finally:
        server.terminate()
        server.wait(timeout=20)
        if cleanup is not None:
            cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for db in dbs:
        figures = measure(db, args.requests, args.concurrency)
        print(
            f"{db:8} {figures['requests']} case submissions, {figures['concurrency']} clients: "
            f"{figures['rate_per_s']} req/s, p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms (statuses {figures['statuses']})"
        )
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
