"""8. Start-up time of `warden serve --http` and peak memory of the app and of an ingest.

Start-up is timed from process launch to the first 200 on a signed URL-verification request,
against a bare Bolt app under uvicorn talking to the same local Slack stand-in (the peer).
Memory is the peak RSS (psutil, process and children, sampled every 50 ms) of the app while it
starts and answers one policy question, and of `warden ingest` on the platform-guidelines
corpus, both against a process that holds only the embedding model and the Chroma collection.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import REPO, Context, missing
from bench.external import run_json
from bench.profiling import describe
from bench.results import Figure, Section
from bench.stats import MIB, PeakRss, median
from warden.errors import WardenError

SECRET = "bench-signing-secret"
COLLECTION = "eval-warden"  # knowledge.evaluate's collection of Warden's policies


class StartupFailed(WardenError):
    """A process under measurement did not come up."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _warden_cmd() -> list[str]:
    script = Path(sys.executable).with_name("warden")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from warden.cli import main; main()"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "WARDEN_"))}
    env.update(PYTHONPATH=str(REPO), **extra)
    return env


def _verification(port: int) -> tuple[bytes, dict[str, str]]:
    from slack_sdk.signature import SignatureVerifier

    body = json.dumps(
        {"token": "bench", "challenge": "bench-challenge", "type": "url_verification"}
    ).encode()
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": str(signature),
    }
    return body, headers


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (less load-sensitive)."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def start_and_time(
    cmd: list[str], env: dict[str, str], port: int, *, timeout_s: float
) -> tuple[float, float, subprocess.Popen[bytes], PeakRss]:
    """Launch `cmd`; seconds (wall, CPU) to the first 200 on URL verification, process, RSS."""
    import httpx

    url = f"http://127.0.0.1:{port}/slack/events"
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    rss = PeakRss(proc.pid).start()
    with httpx.Client(timeout=2.0) as http:
        while True:
            if proc.poll() is not None:
                err = (proc.stderr.read().decode() if proc.stderr else "").strip()
                rss.stop()
                raise StartupFailed(f"{' '.join(cmd[-4:])} exited {proc.returncode}: {err[-300:]}")
            if time.perf_counter() - started > timeout_s:
                stop(proc, rss)
                raise StartupFailed(f"{' '.join(cmd)} did not answer within {timeout_s:.0f} s")
            body, headers = _verification(port)
            try:
                response = http.post(url, content=body, headers=headers)
                if response.status_code == 200 and "bench-challenge" in response.text:
                    return time.perf_counter() - started, cpu_seconds(proc.pid), proc, rss
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], rss: PeakRss) -> int:
    """Stop the process (SIGTERM, then SIGKILL) and return its peak RSS in bytes."""
    peak = rss.stop()
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    return peak


QUESTIONS = (
    "<@UWARDENBOT> is a meme calling a religious group vermin allowed?",
    "<@UWARDENBOT> do we strike for selling fake designer bags?",
)


def _ask(port: int, standin: Any, text: str, timeout_s: float) -> float | None:
    """Mention the bot; seconds until its answer is posted to the stand-in (None: no answer)."""
    from slackapp.driver import SlackDriver

    before = len(standin.calls_to("chat.postMessage"))
    started = time.perf_counter()
    with SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET) as driver:
        driver.mention(text, user="UBENCH1", channel="CBENCH01")
    answered = standin.wait_for(
        lambda s: len(s.calls_to("chat.postMessage")) > before, timeout=timeout_s
    )
    return time.perf_counter() - started if answered else None


def peak_of(
    cmd: list[str], env: dict[str, str], *, until: str | None, timeout_s: float
) -> tuple[int, float, str]:
    """Run `cmd` to completion (or until it prints `until`); peak RSS bytes, seconds, stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rss = PeakRss(proc.pid).start()
    out = ""
    try:
        if until is None:
            out, err = proc.communicate(timeout=timeout_s)
            if proc.returncode != 0:
                raise StartupFailed(f"{' '.join(cmd)} exited {proc.returncode}: {err[-300:]}")
        else:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if until not in line:
                err = proc.stderr.read() if proc.stderr else ""
                raise StartupFailed(f"{' '.join(cmd)} did not print {until}: {err[-300:]}")
    finally:
        elapsed = time.perf_counter() - started
        peak = rss.stop()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
    return peak, elapsed, out


def ingest_cli(ctx: Context, paths: list[Path], collection: str = "bench-rss") -> dict[str, Any]:
    """`warden ingest PATHS --json` in its own process on the shared data folder, RSS sampled."""
    settings = ctx.index_settings
    env = _env(WARDEN_HOME=str(settings.home))
    peak, seconds, out = peak_of(
        [*_warden_cmd(), "ingest", *map(str, paths), "--collection", collection, "--json"],
        env,
        until=None,
        timeout_s=1200.0,
    )
    report = json.loads(out[out.find("{") :])
    label = paths[0].name if len(paths) == 1 else f"{len(paths)} paths"
    return {"peak_bytes": peak, "seconds": seconds, "report": report, "label": label}


def run(ctx: Context) -> Section:
    section = Section(key="startup", title="8. Start-up time and peak memory")
    why = missing("slackapp.cli", "slackapp.standin", "slackapp.driver", "knowledge.index")
    if why:
        return section.not_measured(why)
    from knowledge.index import ingest
    from slackapp.standin import StandIn

    settings = ctx.index_settings
    # `warden serve` needs an index; the quality section built this one (a no-op if so).
    ingest(
        settings.policies_dirs,
        settings=settings,
        client=ctx.client,
        embedder=ctx.cached_embedder,
        collection=COLLECTION,
    )
    repeats = 1 if ctx.quick or ctx.time_left() < 300 else 3
    timeout = 90.0 if ctx.quick else 180.0
    warden_s: list[float] = []
    bare_s: list[float] = []
    warden_cpu: list[float] = []
    bare_cpu: list[float] = []
    app_peak = 0
    bare_peak = 0
    answers: list[float | None] = []
    with StandIn() as standin:
        for r in range(repeats):
            port = _free_port()
            env = _env(
                WARDEN_HOME=str(settings.home),
                WARDEN_COLLECTION=COLLECTION,
                SLACK_BOT_TOKEN="xoxb-bench-token",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=standin.url,
                WARDEN_LOG_LEVEL="ERROR",
            )
            cmd = [*_warden_cmd(), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
            seconds, cpu, proc, rss = start_and_time(cmd, env, port, timeout_s=timeout)
            warden_s.append(seconds)
            warden_cpu.append(cpu)
            if r == 0:  # memory while serving: two real questions answered end to end
                answers = [_ask(port, standin, q, timeout) for q in QUESTIONS]
            app_peak = max(app_peak, stop(proc, rss))

            port = _free_port()
            bare_cmd = [
                sys.executable,
                "-m",
                "bench.bare_bolt",
                "--port",
                str(port),
                "--api-url",
                standin.url,
                "--secret",
                SECRET,
            ]
            seconds, cpu, proc, rss = start_and_time(bare_cmd, _env(), port, timeout_s=timeout)
            bare_s.append(seconds)
            bare_cpu.append(cpu)
            bare_peak = max(bare_peak, stop(proc, rss))
        # Where start-up time goes, in a fresh interpreter with the same environment.
        startup_profile, _ = run_json(["bench.startup_profile"], timeout_s=timeout, env=env)

    floor_peak, _, _ = peak_of(
        [sys.executable, "-m", "bench.floor_proc", str(settings.chroma_path), COLLECTION],
        _env(),
        until="DONE",
        timeout_s=timeout,
    )
    # Measured by the ingest section (`warden ingest` of the corpus, in its own process).
    ingest_run = ctx.cache.get("ingest_cli")
    if ingest_run is None:
        ingest_run = ingest_cli(ctx, [min(ctx.corpus.iterdir(), key=lambda p: p.stat().st_size)])
    ingest_peak, ingest_s = ingest_run["peak_bytes"], ingest_run["seconds"]
    w, b = median(warden_s), median(bare_s)
    corpus_label = ingest_run["label"]
    section.figures += [
        Figure(
            name="start-up of `warden serve --http` to first 200 (median)",
            value=round(w, 2),
            unit="s",
            peer="bare Bolt app under uvicorn, same stand-in (peer)",
            peer_value=round(b, 2),
            ratio=round(w / b, 2),
            ratio_label="Warden / bare Bolt",
        ),
        Figure(
            name="start-up CPU time (user + system) to first 200 (median)",
            value=round(median(warden_cpu), 2),
            unit="CPU s",
            peer="bare Bolt app under uvicorn (peer)",
            peer_value=round(median(bare_cpu), 2),
            ratio=round(median(warden_cpu) / median(bare_cpu), 2),
            ratio_label="Warden / bare Bolt",
        ),
        Figure(
            name="peak RSS of the app (start + two answered questions)"
            + ("" if all(answers) else " — a question was NOT answered in time"),
            value=round(app_peak / MIB),
            unit="MiB",
            peer="process holding only the embedding model and the Chroma collection (floor)",
            peer_value=round(floor_peak / MIB),
            ratio=round(app_peak / floor_peak, 2),
            ratio_label="app / floor",
        ),
        Figure(
            name="peak RSS of the app vs the bare Bolt app",
            value=round(app_peak / MIB),
            unit="MiB",
            peer="bare Bolt app under uvicorn (peer)",
            peer_value=round(bare_peak / MIB),
            ratio=round(app_peak / bare_peak, 2),
            ratio_label="app / bare Bolt",
        ),
        Figure(
            name=f"peak RSS of `warden ingest` ({corpus_label})",
            value=round(ingest_peak / MIB),
            unit="MiB",
            peer="process holding only the embedding model and the Chroma collection (floor)",
            peer_value=round(floor_peak / MIB),
            ratio=round(ingest_peak / floor_peak, 2),
            ratio_label="ingest / floor",
        ),
    ]
    section.data = {
        "warden_startup_s": [round(x, 2) for x in warden_s],
        "bare_bolt_startup_s": [round(x, 2) for x in bare_s],
        "warden_startup_cpu_s": [round(x, 2) for x in warden_cpu],
        "bare_bolt_startup_cpu_s": [round(x, 2) for x in bare_cpu],
        "answer_seconds_first_second": [None if a is None else round(a, 2) for a in answers],
        "ingest_cli_seconds": round(ingest_s, 1),
        "startup_profile": startup_profile,
        "profile": [
            f"`warden serve` start-up sequence: {describe(startup_profile)}; phases: "
            + ", ".join(f"{k} {v}" for k, v in startup_profile["phases"].items())
        ],
        "table": [
            {
                "process": "warden serve --http",
                "start-up s (median)": round(w, 2),
                "peak RSS MiB": round(app_peak / MIB),
            },
            {
                "process": "bare Bolt + uvicorn",
                "start-up s (median)": round(b, 2),
                "peak RSS MiB": round(bare_peak / MIB),
            },
            {
                "process": "model + Chroma only",
                "start-up s (median)": "",
                "peak RSS MiB": round(floor_peak / MIB),
            },
            {
                "process": "warden ingest",
                "start-up s (median)": "",
                "peak RSS MiB": round(ingest_peak / MIB),
            },
        ],
    }
    first, second = [*answers, None, None][:2]
    phases = startup_profile["phases"]
    findings = [
        f"Start-up of `warden serve --http`: {w:.1f} s wall and {median(warden_cpu):.1f} CPU s "
        f"to the first 200, against {b:.1f} s and {median(bare_cpu):.1f} CPU s for a bare Bolt "
        f"app. In a fresh interpreter: imports {phases.get('imports wall s')} s, build_warden "
        f"{phases.get('build_warden wall s')} s, "
        f"store {phases.get('store (migrations) wall s')} s; "
        f"by component: {describe(startup_profile)}. Top functions: "
        + "; ".join(startup_profile["top_functions"][:3])
        + ". Most of it is importing chromadb, LangGraph/LangChain and SQLAlchemy/alembic, "
        "which Warden needs; the catalogue's YAML parse is pure-Python `yaml.safe_load` "
        "(knowledge/catalogue.py `load_policy_file`; suggested: `yaml.CSafeLoader` when libyaml "
        "is present).",
    ]
    if first is not None and second is not None:
        findings.append(
            f"The first answer after start-up took {first:.1f} s, the second {second:.1f} s: "
            "the embedding model (torch, MiniLM) loads lazily on the first question "
            f"({phases.get('first query embedding (model load) wall s')} s in the profile). "
            "Suggested fix (slackapp/cli.py `serve`, Slack helper; or `build_warden`): warm the "
            "embedder in a background thread right after start, so the health check stays "
            "instant and the first specialist does not wait for the model."
        )
    section.data["findings"] = findings
    section.notes.append(
        f"Start-up: {repeats} launch(es) each, alternating Warden and the peer; the first Warden "
        "launch then answered two policy questions (no-LLM mode) so the peak includes the "
        "retrieval path; the first answer after start took "
        + ", then ".join("no answer" if a is None else f"{a:.1f} s" for a in answers)
        + " for the second (a cold first answer means something loads lazily on the first "
        "request). Wall times drift with the machine's load; CPU seconds drift less."
        + f" `warden ingest` took {ingest_s:.0f} s including model load."
    )
    return section
