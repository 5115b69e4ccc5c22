"""`warden eval`, `warden gates`, `warden report`, `warden qa`: automation gates and operations.

Heavy imports (the agent, retrieval, matplotlib, SQLAlchemy) happen inside the commands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from tools.gates import Gates
    from tools.store import Store

gates_app = typer.Typer(
    help="Automation gates: which policies may be auto-proposed.", invoke_without_command=True
)
qa_app = typer.Typer(
    help="QA sampling of decided cases and executed actions.", no_args_is_help=True
)


def _store() -> Store:
    from tools.store import build_store
    from warden.settings import get_settings

    return build_store(get_settings())


def _gates(path: Path | None) -> Gates:
    from tools.gates import load_gates

    return load_gates(path)


def _me() -> str:
    """The Slack user id this command acts as (WARDEN_OPERATORS); refuses without one."""
    from warden.identity import cli_operator
    from warden.settings import get_settings

    return cli_operator(get_settings())


def _date(value: str | None) -> datetime | None:
    from warden.errors import InputError

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{value!r} is not a date: use a date like 2026-11-01.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _console() -> Console:
    from rich.console import Console

    # Tables are wider than a pipe's default 80 columns; never truncate policy ids or figures.
    return Console(width=max(Console().width, 140))


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# ---- eval ---------------------------------------------------------------------------------------


def eval_command(
    dataset: Annotated[Path, typer.Argument(help="labelled cases: CSV, JSONL or JSONL.gz")],
    mapping: Annotated[
        str | None,
        typer.Option("--map", help="mapping name (hatecheck, openai-moderation, warden) or YAML"),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N rows", min=1)] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="store the run")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    # issue 12: simulated upstream signals, one record per case, context recall
    assume_signal: Annotated[
        list[str] | None,
        typer.Option("--assume-signal", help="NAME=SCORE set on every case (repeatable)"),
    ] = None,
    cases_out: Annotated[
        Path | None, typer.Option("--cases-out", help="write one JSON object per case (JSONL)")
    ] = None,
    recall: Annotated[
        bool,
        typer.Option(
            "--context-recall",
            help="also run the rows with a gold exception through the LLM path (scripted model)",
        ),
    ] = False,
) -> None:
    """Run labelled cases through the recommendation path; precision/recall per policy."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ops import judgment
    from ops.evaluate import agent_recommender, evaluate, previous_run, save_run
    from ops.loaders import load_dataset
    from ops.mappings import detect_mapping, load_mapping
    from warden.settings import get_settings

    chosen = load_mapping(mapping) if mapping else detect_mapping(dataset)
    signals = judgment.parse_signals(assume_signal or [])
    rows = judgment.with_signals(load_dataset(dataset, chosen, limit=limit), signals)
    _one_torch_thread()
    store = _store()
    agent_recommend, mode, model = agent_recommender(get_settings(), store)
    recommend = judgment.Recorder(agent_recommend)
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress or as_json,
    ) as bar:
        task = bar.add_task(f"eval {dataset.name} ({mode})", total=len(rows))
        run = evaluate(
            rows,
            recommend,
            dataset=dataset.name,
            mapping=chosen.name,
            mode=mode,
            model=model,
            row_limit=limit,
            progress=lambda n: bar.advance(task, n),
        )
    if save:
        save_run(store, run)
    records = recommend.records(rows)
    if cases_out is not None:
        judgment.write_records(cases_out, records)
    found = None
    if recall:
        from ops.evaluate import agent_deps

        deps = agent_deps(get_settings(), store)
        found = judgment.context_recall(rows, chosen.gold_sections, deps)
    if as_json:
        out: dict[str, object] = {"run": run.model_dump(mode="json")}
        out["groups"] = [g.__dict__ for g in judgment.by_group(records)]
        if found is not None:
            out["context_recall"] = {"rows": found.rows, "held": found.held, "recall": found.recall}
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    _print_run(console, run, previous_run(store, run) if save else None, saved=save)
    _print_verdicts(records, signals)
    if found is not None:
        share = "n/a" if found.recall is None else f"{found.recall:.1%}"
        typer.echo(
            f"context recall (LLM path, scripted model): {found.held}/{found.rows} rows with a "
            f"gold exception section had it in the prompt ({share})"
            + (f"; missed e.g. {', '.join(found.missed[:5])}" if found.missed else "")
        )
    if cases_out is not None:
        typer.echo(f"cases written to {cases_out}")


def _print_verdicts(records: object, signals: dict[str, float]) -> None:
    """Verdict shares per group (e.g. HateCheck functionality), with the pooled sides."""
    from rich.table import Table

    from ops import judgment

    assert isinstance(records, list)
    groups = judgment.by_group(records)
    if len(groups) < 2:
        return
    assumed = ", ".join(f"{k}={v}" for k, v in signals.items()) or "none"
    table = Table(title=f"verdicts per group (assumed signals: {assumed})")
    for col in ("group", "label", "n", *judgment.VERDICTS):
        table.add_column(col, justify="left" if col in ("group", "label") else "right")
    for g in groups:
        table.add_row(
            g.group, str(g.label), str(g.n), *(f"{g.share(v):.0%}" for v in judgment.VERDICTS)
        )
    labels = sorted({str(g.label) for g in groups})
    for label in labels:

        def same(x: str | None, label: str = label) -> bool:
            return str(x) == label

        pooled = judgment.totals(groups, same)
        table.add_row(
            "all", label, str(pooled.n), *(f"{pooled.share(v):.0%}" for v in judgment.VERDICTS)
        )
    _console().print(table)


def _one_torch_thread() -> None:
    """Embed queries on one CPU thread.

    Each case embeds one short query; with several intra-op threads on a shared 2-core machine
    the threads contend and a query took ~0.57 s, against ~0.05 s on one thread.
    """
    import torch

    torch.set_num_threads(1)


def _print_run(console: object, run: object, prev: object, *, saved: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from ops.evaluate import EvalRun
    from ops.report import compare

    assert isinstance(console, Console) and isinstance(run, EvalRun)
    assert prev is None or isinstance(prev, EvalRun)
    out = _console()
    m = run.metrics
    out.print(
        f"[bold]{run.dataset}[/bold]: {run.n_cases} cases, mapping {run.mapping}, mode {run.mode}"
        f"{' (' + run.model + ')' if run.model else ''}; {run.seconds:.1f} s "
        f"({run.seconds_per_1000:.1f} s per 1,000 cases)"
    )
    out.print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(m.outcomes.items())))
    deltas = {d.key: d for d in compare(m.policies, prev.metrics.policies if prev else [])}
    table = Table(title="per policy (violating answers only; abstentions/escalations apart)")
    for col in (
        "policy",
        "precision",
        "recall",
        "F1",
        "support",
        "labelled",
        "abst.",
        "esc.",
        "unknown",
        "flag P",
        "flag R",
    ):
        table.add_column(col, justify="left" if col == "policy" else "right")
    if prev:
        table.add_column("Δ P", justify="right")
        table.add_column("Δ R", justify="right")
    flags = {f.key: f for f in m.flagged}
    for p in m.policies:
        cells = [
            p.key,
            _f(p.precision),
            _f(p.recall),
            _f(p.f1),
            str(p.support),
            str(p.labelled),
            str(p.abstained),
            str(p.escalated),
            str(p.unknown),
            _f(flags[p.key].precision),
            _f(flags[p.key].recall),
        ]
        if prev:
            d = deltas[p.key]
            cells += [_f(d.precision_change), _f(d.recall_change)]
        table.add_row(*cells)
    out.print(table)
    if m.actions:
        actions = Table(title="per action")
        for col in ("action", "precision", "recall", "F1", "support"):
            actions.add_column(col)
        for a in m.actions:
            actions.add_row(a.key, _f(a.precision), _f(a.recall), _f(a.f1), str(a.support))
        out.print(actions)
    c = m.confusion
    confusion = Table(title=f"confusion (rows expected, columns answered; {c.excluded} left out)")
    confusion.add_column("")
    for col in c.columns:
        confusion.add_column(col, justify="right")
    for name, row in zip(c.rows, c.matrix, strict=True):
        confusion.add_row(name, *map(str, row))
    out.print(confusion)
    if len(m.groups) > 1:
        groups = Table(title="per group (accuracy of decided answers; worst first)")
        for col in ("group", "n", "accuracy", "wrong", "abstained", "escalated", "flag acc."):
            groups.add_column(col, justify="left" if col == "group" else "right")
        for g in sorted(m.groups, key=lambda g: g.accuracy if g.accuracy is not None else -1):
            groups.add_row(
                g.group,
                str(g.n),
                _f(g.accuracy, 2),
                str(g.wrong),
                str(g.abstained),
                str(g.escalated),
                _f(g.flag_accuracy, 2),
            )
        out.print(groups)
    out.print(f"run id {run.id}" + ("" if saved else " (not stored: --no-save)"))


def eval_runs_command(
    dataset: Annotated[
        str | None, typer.Option(help="only runs on this data set file name")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """List stored evaluation runs, newest first."""
    from ops.evaluate import list_runs

    for run in list_runs(_store(), dataset=dataset, limit=limit):
        best = ", ".join(
            f"{p.key} P={_f(p.precision, 2)} R={_f(p.recall, 2)} n+={p.support}"
            for p in run.metrics.policies
        )
        typer.echo(
            f"{run.id}  {run.finished_at:%Y-%m-%d %H:%M}  {run.dataset}  {run.mode}  "
            f"{run.n_cases} cases  {best}"
        )


# ---- gates ------------------------------------------------------------------------------------

GatesFileOption = Annotated[
    Path | None, typer.Option("--gates-file", help="default: WARDEN_GATES_FILE or tools/gates.yaml")
]


@gates_app.callback()
def gates_status(ctx: typer.Context, gates_file: GatesFileOption = None) -> None:
    """Show every policy's gate: mode, thresholds, evaluation figures, shadow agreement."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from tools.gates import status_rows, sync_shadow_from_proposals

    store = _store()
    gates = _gates(gates_file)
    sync_shadow_from_proposals(store)
    table = Table(title=f"gates ({gates.source})")
    for col in (
        "policy",
        "mode",
        "min P",
        "min n+",
        "max batch",
        "precision",
        "n+",
        "eval run",
        "can propose",
        "shadow",
        "agreement",
    ):
        table.add_column(col)
    for r in status_rows(store, gates):
        table.add_row(
            r.policy_id,
            r.mode.value + (" (set)" if r.overridden else ""),
            f"{r.min_precision:.2f}",
            str(r.min_support),
            str(r.max_batch_size),
            _f(r.precision),
            "n/a" if r.support is None else str(r.support),
            r.eval_run_id or "none",
            "yes" if r.can_propose else "no",
            str(r.shadow_recorded),
            "n/a" if r.shadow_agreement is None else f"{r.shadow_agreement:.0%}",
        )
    _console().print(table)


@gates_app.command("set")
def gates_set(
    policy: Annotated[str, typer.Argument(help="policy id, e.g. HA")],
    mode: Annotated[str, typer.Argument(help="off, shadow or propose")],
    gates_file: GatesFileOption = None,
) -> None:
    """Switch a policy's mode; propose is refused without a passing evaluation."""
    from tools.gates import GateMode
    from warden.errors import InputError

    try:
        chosen = GateMode(mode)
    except ValueError as exc:
        raise InputError(f"Unknown mode {mode!r}: use off, shadow or propose.") from exc
    from tools.gates import set_mode

    decision = set_mode(_store(), _gates(gates_file), policy, chosen, actor=_me())
    typer.echo(f"{policy}: {decision.mode.value}. {decision.reason}")


@gates_app.command("check")
def gates_check(
    policy: Annotated[str, typer.Argument()],
    batch_size: Annotated[int, typer.Argument(min=1)],
    gates_file: GatesFileOption = None,
) -> None:
    """Would a proposal of BATCH_SIZE actions under POLICY be posted?"""
    from tools.gates import check

    decision = check(_store(), _gates(gates_file), policy, batch_size)
    typer.echo(("allowed: " if decision.allowed else "refused: ") + decision.reason)
    if not decision.allowed:
        raise typer.Exit(1)


# ---- report -----------------------------------------------------------------------------------


def report_command(
    since: Annotated[str | None, typer.Option(help="start of the operations window (date)")] = None,
    until: Annotated[str | None, typer.Option(help="end of the window (date; default now)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("var/report"),
    gates_file: GatesFileOption = None,
) -> None:
    """Write the HTML report with charts: operations, DSA transparency figures (also as
    transparency.csv), evaluation, gates."""
    from ops.report import build_report
    from tools.gates import sync_shadow_from_proposals

    store = _store()
    sync_shadow_from_proposals(store)
    path = build_report(
        store, _gates(gates_file), out_dir=out, since=_date(since), now=_date(until)
    )
    typer.echo(f"report: {path}")
    typer.echo(f"DSA transparency figures (CSV): {path.parent / 'transparency.csv'}")


def kpis_command(
    since: Annotated[str | None, typer.Option(help="start of the window (date)")] = None,
) -> None:
    """Operations figures in the terminal: today, turnaround, SLA, appeals, gaps."""
    from tools.kpis import compute_kpis, headline

    store = _store()
    now = datetime.now(UTC)
    report = compute_kpis(store, now=now, since=_date(since))
    typer.echo(headline(store, now).summary())
    t = report.turnaround
    typer.echo(
        f"Since {report.since:%Y-%m-%d}: {report.cases_opened} cases opened, {t.n} decided, "
        f"median turnaround {_f(t.median_minutes, 0)} min, p90 {_f(t.p90_minutes, 0)} min"
    )
    for r in report.sla:
        compliance = "n/a" if r.compliance is None else f"{r.compliance:.0%}"
        typer.echo(
            f"  SLA {r.priority}: {compliance} met ({r.met} met, {r.breached} breached, "
            f"{r.pending} open within SLA)"
        )
    volume = ", ".join(f"{p} {n}" for p, n in report.volume_by_policy.items()) or "none"
    typer.echo(f"Volume by policy: {volume}")
    a = report.appeals
    rate = "n/a" if a.overturn_rate is None else f"{a.overturn_rate:.0%}"
    typer.echo(f"Appeals: {a.filed} filed, {a.decided} decided, overturn rate {rate}")
    # issue 11: overturn rates per policy, per specialist who decided, per vendor team
    for label, groups in (
        ("policy", report.appeals_by_policy),
        ("specialist", report.appeals_by_specialist),
        ("vendor team", report.appeals_by_vendor_team),
    ):
        for key, stats in groups.items():
            if stats.decided:
                typer.echo(
                    f"  overturn rate, {label} {key}: {stats.overturn_rate:.0%} "
                    f"({stats.overturned} of {stats.decided})"
                )
    from tools.casework import stats as casework_stats

    cw = casework_stats(store)
    typer.echo(
        f"Case work: time to first claim median {_f(cw.time_to_claim.median_minutes, 1)} min, "
        f"p90 {_f(cw.time_to_claim.p90_minutes, 1)} min; handling time median "
        f"{_f(cw.handling.median_seconds, 1)} s, p90 {_f(cw.handling.p90_seconds, 1)} s "
        f"({cw.handling.n} decisions; `warden cases stats`)"
    )
    typer.echo("Gaps:" if report.gaps else "Gaps: none called out.")
    for line in report.gaps:
        typer.echo(f"  - {line}")


# ---- qa ---------------------------------------------------------------------------------------


@qa_app.command("sample")
def qa_sample(
    rate: Annotated[float, typer.Option(help="fraction sampled", min=0.0, max=1.0)] = 0.02,
    since: Annotated[
        str | None, typer.Option(help="decisions since (date); default 7 days")
    ] = None,
    minimum: Annotated[
        int,
        typer.Option(min=0, help="at least this many per policy, specialist, team and path"),
    ] = 2,
) -> None:
    """Sample decided cases and executed actions for QA, stratified (deterministic; re-runnable)."""
    from datetime import timedelta

    from tools.qa import decided_items, sample_stratified

    store = _store()
    start = _date(since) or datetime.now(UTC) - timedelta(days=7)
    items = decided_items(store, since=start)
    samples = sample_stratified(store, items, rate=rate, minimum=minimum)
    typer.echo(f"{len(items)} decisions since {start:%Y-%m-%d}; {len(samples)} sampled for QA.")


@qa_app.command("list")
def qa_list(limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """Samples waiting for a review."""
    from tools.qa import pending

    for s in pending(_store(), limit=limit):
        typer.echo(
            f"{s.id}  {s.subject_type} {s.subject_id}  {s.policy_id or '-'}  "
            f"{s.decision}  by {s.decided_by or '-'}  team {s.vendor_team or '-'}"
        )


@qa_app.command("review")
def qa_review(
    sample_id: Annotated[str, typer.Argument()],
    agree: Annotated[bool, typer.Option("--agree/--disagree")],
    reason: Annotated[str | None, typer.Option(help="required when disagreeing")] = None,
) -> None:
    """Record your QA verdict on one sample (you: WARDEN_OPERATORS)."""
    from tools.qa import record_review

    result = record_review(_store(), sample_id, reviewer_id=_me(), agree=agree, reason=reason)
    typer.echo(result.reason)
    if not result.accepted:
        raise typer.Exit(1)


HASH_SHOWN = 12  # characters of the action hash `warden qa reversals` shows and approve takes


@qa_app.command("reversals")
def qa_reversals(
    every: Annotated[bool, typer.Option("--all", help="decided ones too")] = False,
) -> None:
    """Reversal proposals QA disagreements opened: what they undo and the approvals they need."""
    from tools.proposals import list_proposals

    store = _store()
    shown = [
        p
        for p in list_proposals(store)
        if p.origin == "qa" and (every or p.status.value == "pending")
    ]
    if not shown:
        typer.echo("No reversal proposals" + ("." if every else " waiting for approval."))
    for p in shown:
        typer.echo(
            f"{p.id}  {p.status.value}  reverses {p.reverses}  {p.policy_id}  "
            f"{len(p.approvals)}/{p.required_approvals} approvals  "
            f"hash {p.action_hash[:HASH_SHOWN]}  requested by {p.requester_id}"
        )
        for a in p.actions:
            typer.echo(f"    undo {a.action.value} {a.target_type} {a.target_id} ({a.section_id})")
        if p.evidence:
            typer.echo(f"    why: {p.evidence[0]}")


def _reversal(store: Store, proposal_id: str, shown_hash: str) -> str:
    """The full action hash of a QA reversal whose hash starts as the approver saw it."""
    from warden.errors import InputError

    proposal = store.get_proposal(proposal_id)
    if proposal.origin != "qa":
        raise InputError(f"{proposal_id} is not a QA reversal; it is decided on its card in Slack.")
    if len(shown_hash) < HASH_SHOWN or not proposal.action_hash.startswith(shown_hash):
        raise InputError(
            f"The action list of {proposal_id} is not the one you were shown (hash "
            f"{shown_hash!r}); run `warden qa reversals` and decide on what it lists now."
        )
    return proposal.action_hash


def _cli_approvers() -> tuple[str, set[str]]:
    from warden.errors import ConfigError
    from warden.identity import cli_operator, refuse_cli_approval
    from warden.settings import get_settings

    settings = get_settings()
    refuse_cli_approval(settings)
    me = cli_operator(settings)
    if not settings.approvers:
        raise ConfigError("No approvers are configured: set WARDEN_APPROVERS (Slack user ids).")
    return me, set(settings.approvers)


@qa_app.command("approve")
def qa_approve(
    proposal_id: Annotated[str, typer.Argument(help="a reversal proposal id")],
    action_hash: Annotated[str, typer.Argument(help="the hash `warden qa reversals` showed")],
) -> None:
    """Approve a QA reversal as you; the last approval it needs executes it (exactly once)."""
    from knowledge.catalogue import load_catalogue
    from tools import proposals
    from tools.fanout import execute
    from tools.gateway import build_gateway
    from warden.settings import get_settings

    me, approvers = _cli_approvers()
    store = _store()
    digest = _reversal(store, proposal_id, action_hash)
    result = proposals.approve(store, proposal_id, me, digest, approvers=approvers, source="cli")
    typer.echo(result.reason)
    if not result.accepted:
        raise typer.Exit(1)
    if result.status.value != "approved":
        return
    settings = get_settings()
    done = execute(
        store,
        build_gateway(settings, store.engine),
        proposal_id,
        catalogue=load_catalogue(settings.catalogue_dir),
    )
    typer.echo(
        f"{proposal_id} {done.status.value}: {done.applied} of {done.total} reversed, "
        f"{done.failed} refused by the platform"
    )
    if done.failed:
        raise typer.Exit(1)


@qa_app.command("reject")
def qa_reject(
    proposal_id: Annotated[str, typer.Argument(help="a reversal proposal id")],
    reason: Annotated[str, typer.Option(help="why the decision stands")],
) -> None:
    """Reject a QA reversal as you: the original decision stands."""
    from tools import proposals

    me, approvers = _cli_approvers()
    store = _store()
    digest = _reversal(store, proposal_id, store.get_proposal(proposal_id).action_hash)
    result = proposals.reject(
        store, proposal_id, me, digest, approvers=approvers, reason=reason, source="cli"
    )
    typer.echo(result.reason)
    if not result.accepted:
        raise typer.Exit(1)


@qa_app.command("scores")
def qa_scores(
    since: Annotated[str | None, typer.Option(help="samples since (date)")] = None,
) -> None:
    """Agreement per policy, specialist, reviewer and vendor team."""
    from tools.qa import quality_scores

    q = quality_scores(_store(), since=_date(since))
    overall = "n/a" if q.overall is None else f"{q.overall:.0%}"
    typer.echo(f"{q.sampled} sampled, {q.reviewed} reviewed, agreement {overall}")
    for title, scores in (
        ("policy", q.by_policy),
        ("specialist", q.by_decider),
        ("reviewer", q.by_reviewer),
        ("vendor team", q.by_vendor_team),
        ("automation path", q.by_automation),
    ):
        for s in scores:
            rate = "n/a" if s.rate is None else f"{s.rate:.0%}"
            typer.echo(f"  by {title}: {s.key}: {rate} of {s.reviewed}")


def register(app: typer.Typer) -> None:
    """Attach this package's commands to the root `warden` app."""
    app.command("eval")(eval_command)
    app.command("eval-runs")(eval_runs_command)
    app.command("report")(report_command)
    app.command("kpis")(kpis_command)
    app.add_typer(gates_app, name="gates")
    app.add_typer(qa_app, name="qa")
