"""Ack latency under load: concurrent button clicks and events while the model takes 5 s a call.

    python -m slackapp.loadcheck --json [--clicks 50] [--events 200] [--model-delay 5]

Runs the real app in HTTP mode (uvicorn on loopback, signature check, Bolt, the store's event
de-duplication) against the Web API stand-in, with `SlowWarden` in place of the agent: every
request it serves holds a worker for `delay_s`, as a slow model would. Each request is timed
from send to HTTP response, i.e. the ack Slack waits for (it gives up after 3 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.interface import (
    Decision,
    PolicyAnswer,
    Refusal,
    WardenRequest,
    WardenResponse,
)
from tools.models import FanoutProgress

SECRET = "loadcheck-signing-secret"
CHANNEL = "CLOADCHK1"


class SlowWarden:
    """A scripted agent that spends `delay_s` per model call (one call per request)."""

    def __init__(self, delay_s: float = 5.0) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    def _model_call(self) -> None:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay_s)

    def handle(self, request: WardenRequest) -> WardenResponse:
        self._model_call()
        if request.intent is not None and request.intent.value == "propose":
            return Refusal(reason="load check: proposals are not created")
        return PolicyAnswer(text="Load check answer.", citations=[], mode="llm")

    def resume(
        self,
        thread_id: str,
        decision: Decision,
        progress: Callable[[FanoutProgress], None] | None = None,
    ) -> WardenResponse:
        self._model_call()
        return Refusal(reason="load check: nothing is executed")


def _summary(latencies: list[float], statuses: list[int]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "acked_within_3s": sum(1 for x in ordered if x < 3.0),
        "status": dict(Counter(statuses)),
    }


def serve(*, api_url: str, db_path: str, delay_s: float, workers: int) -> None:
    """Child process: the app with `SlowWarden` in HTTP mode; prints its port, then serves."""
    from slackapp.app import build_app
    from slackapp.http import start_in_thread
    from tools.store import Store
    from warden.settings import Settings

    store = Store.open(f"sqlite:///{db_path}")
    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-loadcheck",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        WARDEN_HOME=str(Path(db_path).parent),
    )
    slack = build_app(settings, warden=SlowWarden(delay_s), store=store, workers=workers)
    server = start_in_thread(slack.asgi())
    print(f"READY {server.port}", flush=True)
    threading.Event().wait()


async def _fire(
    driver: Any, clicks: int, events: int, card: dict[str, Any], value: str
) -> dict[str, list[tuple[float, int]]]:
    """Send every request at once on pre-opened connections; time each until its status line.

    A raw asyncio client keeps the load generator's own overhead out of the figures (an
    HTTP client library parsing 250 responses on a busy machine added seconds).
    """
    import asyncio
    from urllib.parse import urlsplit

    from slackapp.blocks import APPLY

    url = urlsplit(driver.endpoint)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    prepared: list[tuple[str, bytes]] = []
    requests = [("clicks", i) for i in range(clicks)] + [("events", i) for i in range(events)]
    for kind, i in requests:
        if kind == "clicks":
            body, headers = driver.prepare_click(
                APPLY, value, user=f"UCLICK{i:03d}", channel=CHANNEL, message=card
            )
        else:
            body, headers = driver.prepare_mention(
                f"question {i}", user=f"UASK{i:03d}", channel=CHANNEL
            )
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        raw = (
            f"POST {url.path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        prepared.append((kind, raw))
    results: dict[str, list[tuple[float, int]]] = {"clicks": [], "events": []}
    go = asyncio.Event()
    connected = 0
    all_connected = asyncio.Event()

    async def one(kind: str, raw: bytes) -> None:
        nonlocal connected
        reader, writer = await asyncio.open_connection(host, port)
        connected += 1
        if connected == len(prepared):
            all_connected.set()
        await go.wait()
        began = time.perf_counter()
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        elapsed = time.perf_counter() - began
        await reader.read()
        writer.close()
        results[kind].append((elapsed, int(status_line.split()[1])))

    tasks = [asyncio.create_task(one(kind, raw)) for kind, raw in prepared]
    await all_connected.wait()
    go.set()
    await asyncio.gather(*tasks)
    return results


def run(
    *, clicks: int = 50, events: int = 200, delay_s: float = 5.0, workers: int = 16
) -> dict[str, Any]:
    """Fire `clicks` Apply clicks and `events` mentions at once; return ack latency figures."""
    import asyncio
    import subprocess
    import sys

    from slackapp.blocks import CaseRef
    from slackapp.driver import SlackDriver
    from slackapp.standin import StandIn

    with tempfile.TemporaryDirectory(prefix="warden-loadcheck-") as tmp, StandIn() as standin:
        # The app runs in its own process, as in production: the load generator must not
        # compete with it for the interpreter lock.
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slackapp.loadcheck",
                "--serve",
                "--api-url",
                standin.url,
                "--db",
                str(Path(tmp) / "warden.db"),
                "--model-delay",
                str(delay_s),
                "--workers",
                str(workers),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            line = child.stdout.readline().split()
            if not line or line[0] != "READY":
                raise RuntimeError("the load-check app did not start")
            driver = SlackDriver(f"http://127.0.0.1:{line[1]}/slack/events", SECRET)
            card_ts = standin.add_message(CHANNEL, "recommendation card", user="UWARDENBOT")
            card = {**standin.messages[(CHANNEL, card_ts)], "ts": card_ts}
            value = CaseRef(case_id="C-1", thread_id=f"{CHANNEL}:{card_ts}", action="remove")
            # One warm-up request: the first dispatch pays for imports and auth.test.
            driver.mention("warm-up", user="UWARM", channel=CHANNEL)
            began = time.perf_counter()
            results = asyncio.run(_fire(driver, clicks, events, card, value.model_dump_json()))
            wall = time.perf_counter() - began
            driver.close()
        finally:
            child.terminate()
            child.wait(timeout=30)
    return {
        "model_delay_s": delay_s,
        "workers": workers,
        "concurrent_requests": clicks + events,
        "clicks": _summary([x for x, _ in results["clicks"]], [s for _, s in results["clicks"]]),
        "events": _summary([x for x, _ in results["events"]], [s for _, s in results["events"]]),
        "all_acked_in_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--model-delay", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(api_url=args.api_url, db_path=args.db, delay_s=args.model_delay, workers=args.workers)
        return
    report = run(
        clicks=args.clicks, events=args.events, delay_s=args.model_delay, workers=args.workers
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for kind in ("clicks", "events"):
        r = report[kind]
        print(
            f"{kind:>6}: n={r['n']} median {r['median_ms']} ms, p99 {r['p99_ms']} ms, "
            f"max {r['max_ms']} ms, acked within 3 s: {r['acked_within_3s']}/{r['n']}"
        )
    print(f"model held at {report['model_delay_s']} s per call; {report['workers']} workers")


if __name__ == "__main__":
    main()
