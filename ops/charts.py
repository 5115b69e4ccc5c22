"""PNG charts for the report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ops.metrics import BinaryMetrics, Confusion, GroupMetrics
from tools.kpis import KPIReport
from tools.qa import Score

BLUE, ORANGE, GREY, RED, GREEN = "#2f6db5", "#e08a1e", "#b9c0c8", "#c0392b", "#2e8b57"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # "tight" keeps legends placed outside the axes inside the image.
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def _empty(ax: Any, message: str = "no data in this window") -> None:
    """Say so instead of drawing axes around nothing (matplotlib would show -0.04 .. 0.04)."""
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777")


def _whole_numbers(ax: Any) -> None:
    """Counts are whole: no 0.2-step ticks on an axis of one or two cases."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _value(v: float | None) -> float:
    return 0.0 if v is None else v


def policy_bars(
    current: Sequence[BinaryMetrics],
    path: Path,
    *,
    previous: Sequence[BinaryMetrics] | None = None,
    title: str = "Precision and recall per policy",
) -> Path:
    """Precision and recall per policy; the previous run's figures as dark ticks."""
    plt = _plt()
    keys = [m.key for m in current]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(keys) + 2), 3.6))
    xs = range(len(keys))
    width = 0.38
    p = [_value(m.precision) for m in current]
    r = [_value(m.recall) for m in current]
    ax.bar([x - width / 2 for x in xs], p, width, label="precision", color=BLUE)
    ax.bar([x + width / 2 for x in xs], r, width, label="recall", color=ORANGE)
    for x, m in zip(xs, current, strict=True):
        ax.text(
            x - width / 2, _value(m.precision) + 0.02, _fmt(m.precision), ha="center", fontsize=7
        )
        ax.text(x + width / 2, _value(m.recall) + 0.02, _fmt(m.recall), ha="center", fontsize=7)
        ax.text(x, -0.12, f"n+={m.support}", ha="center", fontsize=7, color="#555")
    if previous:
        before = {m.key: m for m in previous}
        for x, key in zip(xs, keys, strict=True):
            old = before.get(key)
            # An undefined figure (no predictions) has no tick rather than a misleading 0.
            if old is not None and old.precision is not None:
                ax.hlines(old.precision, x - width, x, colors="black", linewidth=2)
            if old is not None and old.recall is not None:
                ax.hlines(old.recall, x, x + width, colors="black", linewidth=2)
        ax.plot([], [], color="black", linewidth=2, label="previous run")
    ax.set_xticks(list(xs), keys)
    ax.set_ylim(-0.18, 1.32)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper center", ncols=3, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def confusion_matrix(confusion: Confusion, path: Path, *, title: str = "Confusion matrix") -> Path:
    """Expected label (rows) against the answer (columns), with counts in the cells."""
    plt = _plt()
    rows, cols = confusion.rows, confusion.columns
    fig, ax = plt.subplots(
        figsize=(max(4.5, 0.9 * len(cols) + 2.2), max(2.6, 0.6 * len(rows) + 1.6))
    )
    totals = [max(1, sum(r)) for r in confusion.matrix]
    shares = [[c / t for c in row] for row, t in zip(confusion.matrix, totals, strict=True)]
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(confusion.matrix):
        for j, count in enumerate(row):
            dark = shares[i][j] > 0.6
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("answer")
    ax.set_ylabel("expected")
    suffix = (
        f" ({confusion.excluded} rows with several/unknown labels left out)"
        if confusion.excluded
        else ""
    )
    ax.set_title(title + suffix, fontsize=9)
    return _save(fig, path)


def group_accuracy(groups: Sequence[GroupMetrics], path: Path, *, title: str) -> Path:
    """Accuracy per group (e.g. HateCheck functionality), worst first, with abstention share."""
    plt = _plt()
    ordered = sorted(groups, key=lambda g: (_value(g.accuracy), _value(g.flag_accuracy), g.group))
    fig, ax = plt.subplots(figsize=(7.5, max(2.5, 0.32 * len(ordered) + 1.4)))
    ys = list(range(len(ordered)))
    acc = [_value(g.accuracy) for g in ordered]
    flag = [_value(g.flag_accuracy) for g in ordered]
    abst = [(g.abstained + g.escalated) / g.n if g.n else 0.0 for g in ordered]
    ax.barh([y - 0.2 for y in ys], acc, 0.4, color=BLUE, label="accuracy of decided answers")
    ax.barh([y + 0.2 for y in ys], flag, 0.4, color=ORANGE, label="counting borderline flags")
    ax.scatter(abst, ys, color="black", marker="|", s=80, label="share abstained/escalated")
    ax.set_yticks(ys, [f"{g.group} (n={g.n})" for g in ordered], fontsize=7)
    ax.invert_yaxis()  # worst at the top
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.xaxis.set_ticks_position("top")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncols=3, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def weekly(report: KPIReport, path: Path) -> Path:
    """Cases opened and decided per week, with the median turnaround on a second axis."""
    plt = _plt()
    labels = [w.week_start.strftime("%d %b") for w in report.weeks]
    # The size of the chart beside it: shown at the same width, its text reads the same size.
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    xs = list(range(len(labels)))
    ax.bar(
        [x - 0.2 for x in xs],
        [w.cases_opened for w in report.weeks],
        0.4,
        color=GREY,
        label="cases opened",
    )
    ax.bar(
        [x + 0.2 for x in xs], [w.decisions for w in report.weeks], 0.4, color=BLUE, label="decided"
    )
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylabel("cases")
    _whole_numbers(ax)
    twin = ax.twinx()
    turnaround = [w.median_turnaround_minutes for w in report.weeks]
    # A demo decides in seconds, a pod in hours: one unit cannot show both (0.003 min).
    unit, per = duration_unit([t for t in turnaround if t is not None])
    twin.plot(
        [x for x, t in zip(xs, turnaround, strict=True) if t is not None],
        [t / per for t in turnaround if t is not None],
        color=ORANGE,
        marker="o",
        label=f"median turnaround ({unit})",
    )
    twin.set_ylabel(f"median turnaround ({unit})")
    # At least one whole unit high: a decision in a fraction of a second is not 0.175 of an axis.
    shown = [t / per for t in turnaround if t is not None]
    twin.set_ylim(0, max(1.0, 1.15 * max(shown, default=0.0)))
    if not any(w.cases_opened or w.decisions for w in report.weeks):
        _empty(ax)
        twin.set_yticks([])
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    # Below the axes: inside, it covers the first week's bars and turnaround.
    ax.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncols=3,
        frameon=False,
    )
    ax.set_title("Cases and turnaround per week (week starting)", fontsize=10)
    return _save(fig, path)


def sla_by_priority(report: KPIReport, path: Path) -> Path:
    """Escalations per priority: met, breached and still within SLA."""
    plt = _plt()
    rows = report.sla
    fig, ax = plt.subplots(figsize=(5.5, 3))
    names = [r.priority for r in rows] or ["(none)"]
    met = [r.met for r in rows] or [0]
    breached = [r.breached for r in rows] or [0]
    pending = [r.pending for r in rows] or [0]
    ax.bar(names, met, color=GREEN, label="met")
    ax.bar(names, breached, bottom=met, color=RED, label="breached")
    ax.bar(
        names,
        pending,
        bottom=[a + b for a, b in zip(met, breached, strict=True)],
        color=GREY,
        label="open, within SLA",
    )
    ax.set_ylim(0, max([r.total for r in rows] or [1]) * 1.25)
    _whole_numbers(ax)
    if not rows:
        _empty(ax, "no escalations in this window")
    for i, r in enumerate(rows):
        ax.text(
            i,
            r.total + 0.1,
            "n/a" if r.compliance is None else f"{r.compliance:.0%}",
            ha="center",
            fontsize=8,
        )
    ax.set_title("Escalation SLA compliance by priority", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def agreement(scores: Sequence[Score], path: Path, *, title: str) -> Path:
    """QA agreement rate per key (policy, vendor team ...), with the number reviewed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, max(2.2, 0.35 * len(scores) + 1.2)))
    keys = [s.key for s in scores] or ["(no reviews yet)"]
    rates = [_value(s.rate) for s in scores] or [0.0]
    ax.barh(keys, rates, color=[RED if r < 0.9 else GREEN for r in rates])
    for i, s in enumerate(scores):
        ax.text(
            0.02,
            i,
            f"{_value(s.rate):.0%} of {s.reviewed}",
            va="center",
            fontsize=7,
            color="white",
            fontweight="bold",
        )
    ax.set_xlim(0, 1)
    if not scores:
        ax.text(0.5, 0, "no QA reviews in this window", ha="center", va="center", color="#777")
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def volume_by_policy(report: KPIReport, path: Path, actions: dict[str, int]) -> Path:
    """Per policy in the window: work opened (proposals + escalations) and actions applied."""
    plt = _plt()
    policies = sorted(set(report.volume_by_policy) | set(actions))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(policies) + 2), 3))
    xs = list(range(len(policies)))
    work = [report.volume_by_policy.get(p, 0) for p in policies]
    applied = [actions.get(p, 0) for p in policies]
    ax.bar([x - 0.2 for x in xs], work, 0.4, color=GREY, label="proposals + escalations")
    ax.bar([x + 0.2 for x in xs], applied, 0.4, color=BLUE, label="actions applied")
    for x, w, a in zip(xs, work, applied, strict=True):
        ax.text(x - 0.2, w, str(w), ha="center", va="bottom", fontsize=7)
        ax.text(x + 0.2, a, str(a), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(xs, policies, fontsize=8)
    # A linear axis with every bar labelled: 400 removals beside 3 escalations stay readable
    # from their labels, where a log axis (ticks 0, 10^1) reads as nothing to an ops lead.
    ax.set_ylim(0, 1.18 * max([*work, *applied, 1]))
    _whole_numbers(ax)
    if not any(work) and not any(applied):
        _empty(ax)
    ax.set_title("Work and actions applied by policy (window)", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def duration_unit(minutes: Sequence[float]) -> tuple[str, float]:
    """The unit that shows these durations as readable numbers, and minutes per unit."""
    top = max(minutes, default=0.0)
    if top < 2:
        return "seconds", 1 / 60
    if top >= 180:
        return "hours", 60.0
    return "minutes", 1.0
