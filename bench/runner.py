"""Run the sections in order, each within its budget; a missing piece is reported, never guessed."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.context import REPO, Context
from bench.results import BenchResults, Machine, Section

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SectionRun = Callable[[Context], Section | list[Section]]
BUDGET_S = 14 * 60  # `make bench` must finish within 15 minutes; the report needs the rest
MIN_SECTION_S = 60  # a section is not started with less than this left


def _sections() -> list[tuple[str, SectionRun]]:
    from bench import agents, external, ingest, quality, query, startup

    # Run order: the cheap, independent scripts first; then the synthetic index, which grows
    # only as far as the time left allows (keeping a reserve for start-up, which comes last);
    # a size it cannot finish is reported as not measured, never guessed.
    # The ingest section comes before anything opens the shared index (see bench.ingest).
    return [
        ("slack", external.slack),
        ("fanout", external.fanout),
        ("ingest", ingest.run),
        ("quality", quality.run),
        ("agent_cost", agents.calls_and_tokens),
        ("agent_time", agents.time_outside_model),
        ("query", query.run),
        ("startup", startup.run),
    ]


TITLES = {
    "ingest": "1. Ingest throughput against the embedding model",
    "query": "2. Query latency against the model floor and plain Chroma",
    "quality": "3. Retrieval quality (recall@5) and its cost",
    "agent_time": "4. Time inside Warden per request, outside the model",
    "agent_cost": "5. Model calls and prompt tokens per job against a ReAct agent",
    "fanout": "6. Fanout throughput against the database's raw insert rate",
    "slack": "7. Slack ack latency under load, against Slack's 3 s limit",
    "startup": "8. Start-up time and peak memory",
}


def _order(section: Section) -> int:
    number = section.title.split(".", 1)[0]
    return int(number) if number.isdigit() else 99


def _machine() -> Machine:
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    threads = None
    if "torch" in sys.modules:
        threads = int(sys.modules["torch"].get_num_threads())
    return Machine(
        cpu_count=os.cpu_count(),
        load_avg_1m=load,
        python=platform.python_version(),
        torch_threads=threads,
    )


def _run_one(key: str, fn: SectionRun, ctx: Context) -> list[Section]:
    started = time.perf_counter()
    try:
        produced = fn(ctx)
        sections = produced if isinstance(produced, list) else [produced]
    except Exception as exc:  # one broken piece must not hide the others' figures
        sections = [
            Section(key=key, title=TITLES.get(key, key)).not_measured(
                f"{type(exc).__name__}: {exc}"
            )
        ]
        sections[0].data["traceback"] = traceback.format_exc()
    elapsed = time.perf_counter() - started
    for section in sections:
        section.seconds = round(elapsed / len(sections), 1)
    return sections


def _print_summary(results: BenchResults) -> None:
    for section in results.sections:
        print(f"\n{section.title}  [{section.status}, {section.seconds:.0f} s]")
        if section.reason:
            print(f"  reason: {section.reason}")
        for f in section.figures:
            ratio = f"ratio {f.ratio} ({f.ratio_label})" if f.ratio is not None else ""
            goal = f"goal {f.goal}: {'met' if f.met else 'NOT met'}" if f.goal else ""
            print(f"  {f.name}: {f.value} {f.unit} | vs {f.peer}: {f.peer_value} | {ratio} {goal}")


def run(ctx: Context, out: Path, *, only: list[str] | None, command: str) -> BenchResults:
    """Run the selected sections (all when `only` is None); write results, report and charts."""
    started = time.perf_counter()
    results = BenchResults(
        started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        quick=ctx.quick,
        command=command,
        machine=_machine(),
    )
    for key, fn in _sections():
        if only and key not in only:
            continue
        used = time.perf_counter() - started
        if ctx.time_left() < MIN_SECTION_S:
            reason = f"not run: the run had used {used:.0f} s of its {BUDGET_S} s budget"
            results.sections.append(
                Section(key=key, title=TITLES.get(key, key)).not_measured(reason)
            )
            continue
        print(f"== {key} ({used:.0f} s into the run) ...", flush=True)
        results.sections += _run_one(key, fn, ctx)
    results.sections.sort(key=_order)  # the report follows the numbering
    results.seconds = round(time.perf_counter() - started, 1)
    results.finished_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    results.machine.torch_threads = _machine().torch_threads
    from bench import report
    from bench.findings import findings

    report.write(results, out, findings(results))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke test, not figures"
    )
    parser.add_argument("--only", nargs="*", default=None, help="section keys to run")
    parser.add_argument("--out", type=Path, default=None, help="where results and the report go")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.out is not None:
        out: Path = args.out
    elif args.quick:  # never overwrite the committed full-run results with smoke figures
        out = Path(tempfile.mkdtemp(prefix="warden-bench-out-"))
    else:
        out = REPO / "bench"
    given = sys.argv[1:] if argv is None else argv
    command = "make bench" if not given else "python -m bench " + " ".join(given)
    work = Path(tempfile.mkdtemp(prefix="warden-bench-"))
    try:
        ctx = Context(quick=args.quick, work=work, deadline=time.monotonic() + BUDGET_S)
        results = run(ctx, out, only=args.only, command=command)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    _print_summary(results)
    print(f"\nwrote {out / 'results.json'} and {out / 'REPORT.md'} in {results.seconds:.0f} s")
    return 0
