"""6 and 7: measurements other helpers own as scripts, run here as subprocesses and read as JSON.

They run in their own processes (as their authors designed them: the fanout's workers and the
Slack app must not share an interpreter with the load generator), each with a hard time limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.context import REPO, Context, missing
from bench.results import Chart, Curve, Figure, Section
from warden.errors import WardenError

SLACK_LIMIT_S = 3.0


class ScriptFailed(WardenError):
    """A measurement script exited badly or printed no JSON."""


def run_json(
    args: list[str], *, timeout_s: float, env: dict[str, str] | None = None
) -> tuple[Any, float]:
    """Run `python -m ...args` from the repo; return its JSON output and wall seconds."""
    env = {**(env if env is not None else os.environ), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ScriptFailed(
            f"`python -m {' '.join(args)}` did not finish within {timeout_s:.0f} s"
        ) from exc
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ScriptFailed(
            f"`python -m {' '.join(args)}` exited {done.returncode}: {' | '.join(tail)}"
        )
    out = done.stdout.strip()
    try:
        return json.loads(out), elapsed
    except ValueError:
        start = out.find("{")
        try:
            return json.loads(out[start:]), elapsed
        except ValueError as exc:
            raise ScriptFailed(
                f"`python -m {' '.join(args)}` printed no JSON: {out[-200:]!r}"
            ) from exc


# --------------------------------------------------------------------------- 7. Slack


def slack(ctx: Context) -> Section:
    section = Section(
        key="slack", title="7. Slack ack latency under load, against Slack's 3 s limit"
    )
    why = missing("slackapp.loadcheck")
    if why:
        return section.not_measured(why)
    clicks, events = (5, 20) if ctx.quick else (50, 200)
    delay = 1.0 if ctx.quick else 5.0
    data, wall = run_json(
        [
            "slackapp.loadcheck",
            "--json",
            "--clicks",
            str(clicks),
            "--events",
            str(events),
            "--model-delay",
            str(delay),
        ],
        timeout_s=120 if ctx.quick else 300,
    )
    section.data = {"loadcheck": data, "script_seconds": round(wall, 1)}
    limit_ms = SLACK_LIMIT_S * 1000
    for kind, label in (("clicks", "button clicks"), ("events", "events (mentions)")):
        r = data[kind]
        for stat in ("median", "p99"):
            value = float(r[f"{stat}_ms"])
            section.figures.append(
                Figure(
                    name=f"ack {stat}, {r['n']} concurrent {label}",
                    value=value,
                    unit="ms",
                    peer="Slack's 3 s ack limit",
                    peer_value=limit_ms,
                    ratio=round(value / limit_ms, 3),
                    ratio_label="ack / limit",
                    goal="< 1",
                    met=value < limit_ms,
                )
            )
    total = int(data["concurrent_requests"])
    rate = total / float(data["all_acked_in_s"])
    needed = total / SLACK_LIMIT_S
    section.figures.append(
        Figure(
            name=f"requests acked per second in HTTP mode ({total} at once)",
            value=round(rate, 1),
            unit="req/s",
            peer=f"rate at which the last of {total} simultaneous requests is acked within 3 s",
            peer_value=round(needed, 1),
            ratio=round(rate / needed, 2),
            ratio_label="measured / needed",
            goal=">= 1",
            met=rate >= needed,
        )
    )
    section.notes.append(
        f"`python -m slackapp.loadcheck --json --clicks {clicks} --events {events} "
        f"--model-delay {delay:g}`: the real app in HTTP mode (uvicorn, signature check, Bolt) in "
        f"its own process, the model held {delay:g} s per call, every request sent at the same "
        "instant (harsher than 200 events spread over a minute). Acked requests per second are "
        "measured over that burst."
    )
    return section


# --------------------------------------------------------------------------- 6. fanout


def _find(obj: Any, *names: str) -> Any:
    """The first value under any of `names`, searching nested dicts (the script owns its format)."""
    if isinstance(obj, dict):
        for name in names:
            if name in obj:
                return obj[name]
        for value in obj.values():
            found = _find(value, *names)
            if found is not None:
                return found
    return None


def fanout(ctx: Context) -> Section:
    section = Section(
        key="fanout", title="6. Fanout throughput against the database's raw insert rate"
    )
    why = missing("bench.fanout_bench", "tools.fanout")
    if why:
        return section.not_measured(why)
    # Four runs (SQLite x1, Postgres x1/x2/x4); since the outbox reads only a proposal's case
    # id, 10,000 actions each take seconds (before, over 10 minutes in all).
    actions = 300 if ctx.quick else 10_000
    args = ["bench.fanout_bench", "--json", "--actions", str(actions), "--workers", "1", "2", "4"]
    timeout = max(60.0, min(900.0, ctx.time_left() - 30))
    data, wall = run_json(args, timeout_s=timeout)
    results = data["results"]
    section.data = {
        "fanout_bench": data,
        "script_seconds": round(wall, 1),
        "table": [
            {
                "database": r["db"],
                "workers": r["workers"],
                "actions": r["actions"],
                "fanout actions/s": r["actions_per_s"],
                "raw INSERT rows/s": r["raw_insert_rows_per_s"],
                "ratio": r["ratio"],
                "seconds": r["seconds"],
            }
            for r in results
        ],
    }
    for r in results:
        section.figures.append(
            Figure(
                name=f"fanout on {r['db']}, {r['workers']} worker(s), {r['actions']:,} actions",
                value=float(r["actions_per_s"]),
                unit="actions/s",
                peer=f"plain batched INSERTs into {r['db']}, same run (limit)",
                peer_value=float(r["raw_insert_rows_per_s"]),
                ratio=float(r["ratio"]),
                ratio_label="fanout / raw insert",
            )
        )
    pg = [r for r in results if r["db"] == "postgres"]
    if pg:
        xs = [float(r["workers"]) for r in pg]
        section.charts.append(
            Chart(
                file="fanout_workers.png",
                title=f"Fanout on Postgres, {pg[0]['actions']:,} actions",
                x_label="worker processes",
                y_label="actions (rows) per second",
                curves=[
                    Curve(
                        label="fanout actions/s", x=xs, y=[float(r["actions_per_s"]) for r in pg]
                    ),
                    Curve(
                        label="raw batched INSERT rows/s (limit)",
                        x=xs,
                        y=[float(r["raw_insert_rows_per_s"]) for r in pg],
                    ),
                ],
                log_y=True,
            )
        )
    if data.get("note"):
        section.status = "partial"
        section.reason = str(data["note"])
    section.notes.append(
        f"`python -m {' '.join(args)}` (the fanout helper's script): every run is checked "
        "(each action applied exactly once) before its figure is printed. Each fanout action is "
        "a ledger update, a platform receipt and state change, a statement of reasons and an "
        "audit event in one transaction per batch; the raw rate inserts one ledger-shaped row."
    )
    return section
