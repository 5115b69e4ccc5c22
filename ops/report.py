"""The HTML report: operations first (what the ops lead watches), the EU DSA transparency
figures, then evaluation runs (with the previous run) and automation gates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ops import charts
from ops.evaluate import EvalRun, list_runs, previous_run
from ops.metrics import BinaryMetrics
from tools import operations, transparency
from tools.gates import Gates, GateStatusRow, status_rows
from tools.kpis import Headline, KPIReport, compute_kpis, headline
from tools.operations import Operations
from tools.store import Store
from tools.transparency import TransparencyReport

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

TEMPLATES = Path(__file__).resolve().parent / "templates"


class Delta(BaseModel):
    key: str
    precision: float | None
    precision_before: float | None
    recall: float | None
    recall_before: float | None

    @staticmethod
    def _d(now: float | None, before: float | None) -> float | None:
        return None if now is None or before is None else now - before

    @property
    def precision_change(self) -> float | None:
        return self._d(self.precision, self.precision_before)

    @property
    def recall_change(self) -> float | None:
        return self._d(self.recall, self.recall_before)


class RunSection(BaseModel):
    run: EvalRun
    previous: EvalRun | None
    policies: list[BinaryMetrics] = Field(description="policies the run measured anything for")
    unmeasured: list[str] = Field(description="no labelled positive and no prediction: no figures")
    deltas: list[Delta]
    charts: dict[str, str]


def _measured(metrics: list[BinaryMetrics]) -> list[BinaryMetrics]:
    return [m for m in metrics if m.support or m.predicted]


def compare(current: list[BinaryMetrics], before: list[BinaryMetrics]) -> list[Delta]:
    """Per key: the current and the previous precision and recall."""
    old = {m.key: m for m in before}
    return [
        Delta(
            key=m.key,
            precision=m.precision,
            precision_before=old[m.key].precision if m.key in old else None,
            recall=m.recall,
            recall_before=old[m.key].recall if m.key in old else None,
        )
        for m in current
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _run_section(store: Store, run: EvalRun, chart_dir: Path) -> RunSection:
    prev = previous_run(store, run)
    slug = _slug(f"{run.dataset}-{run.id}")
    measured = _measured(run.metrics.policies)
    drawn = {
        "policies": charts.policy_bars(
            measured,
            chart_dir / f"{slug}-policies.png",
            previous=prev.metrics.policies if prev else None,
            title=f"{run.dataset}: precision / recall per policy ({run.mode})",
        ),
        "flagged": charts.policy_bars(
            _measured(run.metrics.flagged),
            chart_dir / f"{slug}-flagged.png",
            previous=prev.metrics.flagged if prev else None,
            title="Counting borderline drafts as flags",
        ),
        "confusion": charts.confusion_matrix(
            run.metrics.confusion, chart_dir / f"{slug}-confusion.png"
        ),
    }
    if len(run.metrics.groups) > 1:
        drawn["groups"] = charts.group_accuracy(
            run.metrics.groups,
            chart_dir / f"{slug}-groups.png",
            title=f"{run.dataset}: accuracy per group (worst first)",
        )
    return RunSection(
        run=run,
        previous=prev,
        policies=measured,
        unmeasured=[m.key for m in run.metrics.policies if m not in measured],
        deltas=compare(measured, prev.metrics.policies if prev else []),
        charts={k: f"charts/{p.name}" for k, p in drawn.items()},
    )


class ReportData(BaseModel):
    generated_at: datetime
    runs: list[RunSection]
    gates: list[GateStatusRow]
    gates_unevaluated: list[GateStatusRow]
    gates_source: str
    kpis: KPIReport
    operations: Operations
    transparency: TransparencyReport
    transparency_csv: str
    headline: Headline
    charts: dict[str, str]


def collect(
    store: Store,
    gates: Gates,
    catalogue: Catalogue,
    *,
    out_dir: Path,
    since: datetime | None,
    now: datetime,
) -> ReportData:
    """Gather every figure and draw every chart into `out_dir/charts`."""
    chart_dir = out_dir / "charts"
    latest: dict[str, EvalRun] = {}
    for run in list_runs(store, limit=200):
        latest.setdefault(run.dataset, run)
    sections = [_run_section(store, r, chart_dir) for r in latest.values()]
    kpis = compute_kpis(store, now=now, since=since)
    ops = operations.compute(store, catalogue, since=kpis.since, now=now)
    dsa_figures = transparency.compute(store, catalogue, since=kpis.since, until=now)
    csv_path = out_dir / "transparency.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        transparency.write_csv(dsa_figures, out)
    drawn = {
        "weekly": charts.weekly(kpis, chart_dir / "ops-weekly.png"),
        "volume": charts.volume_by_policy(
            kpis, chart_dir / "ops-volume.png", ops.actions_by_policy
        ),
    }
    # Nothing measured, no chart: the report says so in one line instead of empty axes.
    if kpis.sla:
        drawn["sla"] = charts.sla_by_priority(kpis, chart_dir / "ops-sla.png")
    if kpis.quality.reviewed:
        drawn["qa_policy"] = charts.agreement(
            kpis.quality.by_policy, chart_dir / "ops-qa-policy.png", title="QA agreement by policy"
        )
        drawn["qa_vendor"] = charts.agreement(
            kpis.quality.by_vendor_team,
            chart_dir / "ops-qa-vendor.png",
            title="QA agreement by vendor team",
        )
    policy_ids = sorted(
        set(gates.policies) | {m.key for s in sections for m in s.run.metrics.policies}
    )
    rows = status_rows(store, gates, policy_ids)
    return ReportData(
        generated_at=now,
        runs=sections,
        # A policy without labelled positives has no figures: one line names them, not n/a rows.
        gates=[g for g in rows if _has_figures(g)],
        gates_unevaluated=[g for g in rows if not _has_figures(g)],
        gates_source=gates.source,
        kpis=kpis,
        operations=ops,
        transparency=dsa_figures,
        transparency_csv=csv_path.name,
        headline=headline(store, now),
        charts={k: f"charts/{p.name}" for k, p in drawn.items()},
    )


def _has_figures(gate: GateStatusRow) -> bool:
    return bool(gate.support or gate.shadow_recorded or gate.overridden)


def _pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"


def _minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 60:.0f} s"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def _hours(value: float | None) -> str:
    return "n/a" if value is None else _minutes(value * 60)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render(data: ReportData) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=_pct, num=_num, signed=_signed, minutes=_minutes, hours=_hours, plural=_plural
    )
    return env.get_template("report.html.j2").render(d=data)


def build_report(
    store: Store,
    gates: Gates,
    *,
    out_dir: Path,
    since: datetime | None = None,
    now: datetime | None = None,
    catalogue: Catalogue | None = None,
) -> Path:
    """Write `out_dir/index.html`, its PNG charts and `transparency.csv`; return the HTML path."""
    if catalogue is None:
        from knowledge.catalogue import load_catalogue

        catalogue = load_catalogue()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = collect(
        store, gates, catalogue, out_dir=out_dir, since=since, now=now or datetime.now(UTC)
    )
    path = out_dir / "index.html"
    path.write_text(render(data), encoding="utf-8")
    return path
