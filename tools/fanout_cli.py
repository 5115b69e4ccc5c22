"""`warden fanout run|status`: execute an approved proposal from the shell, with N workers.

Everything heavy (SQLAlchemy, the catalogue, httpx) is imported inside the commands.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tools.fanout import FanoutResult
    from tools.models import FanoutProgress

fanout_app = typer.Typer(
    help="Execute approved proposals exactly once (resumable, several workers).",
    no_args_is_help=True,
)
PROGRESS_EVERY_S = 1.0


def _run_one(proposal_id: str, batch_size: int, worker_id: str | None, quiet: bool) -> FanoutResult:
    """One worker in this process: settings, store, gateway and catalogue built once here."""
    from knowledge.catalogue import load_catalogue
    from tools.fanout import execute
    from tools.gateway import build_gateway
    from tools.store import build_store
    from warden.settings import get_settings

    settings = get_settings()
    store = build_store(settings)
    gateway = build_gateway(settings, store.engine)
    last = 0.0

    def show(progress: FanoutProgress) -> None:
        nonlocal last
        now = time.monotonic()
        if quiet or (now - last < PROGRESS_EVERY_S and not progress.done):
            return  # a bounded rate: a 10,000-action run prints a line a second, not 100
        last = now
        typer.echo(
            f"{progress.proposal_id}: {progress.applied}/{progress.total} applied, "
            f"{progress.failed} failed"
        )

    try:
        return execute(
            store,
            gateway,
            proposal_id,
            catalogue=load_catalogue(settings.catalogue_dir),
            progress=show,
            batch_size=batch_size,
            worker_id=worker_id,
        )
    finally:
        store.close()


def _worker_process(proposal_id: str, batch_size: int, worker_id: str) -> None:
    from tools.models import ProposalStatus
    from tools.store import build_store
    from warden.errors import ApprovalError
    from warden.settings import get_settings

    try:
        result = _run_one(proposal_id, batch_size, worker_id, quiet=True)
    except ApprovalError:
        store = build_store(get_settings())
        # A worker that starts after the others finished finds nothing left to do.
        if store.get_proposal(proposal_id).status == ProposalStatus.EXECUTED:
            return
        raise
    typer.echo(f"{worker_id}: applied {result.applied_by_this_run} in {result.batches} batches")


@fanout_app.command("run")
def run(
    proposal_id: Annotated[str, typer.Argument(help="an approved proposal id")],
    workers: Annotated[int, typer.Option(min=1, max=32, help="worker processes")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="actions per batch")] = 100,
) -> None:
    """Apply every action of an approved proposal exactly once; run again to resume."""
    if workers == 1:
        result = _run_one(proposal_id, batch_size, None, quiet=False)
        typer.echo(result.model_dump_json(indent=2))
        if result.failed:
            raise typer.Exit(1)
        return
    from tools.fanout import default_worker_id

    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited connections
    procs = [
        ctx.Process(
            target=_worker_process,
            args=(proposal_id, batch_size, f"{default_worker_id()}/{n}"),
        )
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    _print_status(proposal_id, as_json=False)
    if any(proc.exitcode != 0 for proc in procs):
        typer.secho("error: a worker failed; run again to resume.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)


def _print_status(proposal_id: str, *, as_json: bool) -> None:
    from tools.fanout import status as ledger_status
    from tools.store import build_store
    from warden.settings import get_settings

    store = build_store(get_settings())
    try:
        report = ledger_status(store, proposal_id)
    finally:
        store.close()
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(
        f"{report.proposal_id} ({report.proposal_status.value}): {report.applied}/{report.total} "
        f"applied, {report.failed} failed, {report.pending} pending"
    )
    for worker, count in sorted(report.workers.items()):
        typer.echo(f"  {worker}: {count}")
    for error in report.errors:
        typer.echo(f"  error: {error}")


@fanout_app.command("status")
def status(
    proposal_id: Annotated[str, typer.Argument(help="a proposal id")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show how far a proposal's fanout got: applied, failed, pending, by worker, errors."""
    _print_status(proposal_id, as_json=as_json)


def register(app: typer.Typer) -> None:
    """Attach `warden fanout` to the root app."""
    app.add_typer(fanout_app, name="fanout")
