"""Write `results.json`, `REPORT.md` and the growth-curve charts from a run's results."""

from __future__ import annotations

from pathlib import Path

from bench.results import BenchResults, Chart, Figure, Section


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _met(figure: Figure) -> str:
    if figure.met is None:
        return ""
    return "yes" if figure.met else "**no**"


def draw(chart: Chart, folder: Path) -> Path:
    """Render one chart as PNG (matplotlib, Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    markers = "osD^vP*X"
    for i, curve in enumerate(chart.curves):
        ax.plot(curve.x, curve.y, marker=markers[i % len(markers)], label=curve.label)
    if chart.hline is not None:
        ax.axhline(chart.hline, color="crimson", linestyle="--", label=chart.hline_label)
    if chart.log_x:
        ax.set_xscale("log")
    if chart.log_y:
        ax.set_yscale("log")
    ax.set_title(chart.title)
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / chart.file
    fig.savefig(path)
    plt.close(fig)
    return path


def figure_rows(sections: list[Section]) -> list[str]:
    lines = [
        "| item | figure | Warden | peer or limit | peer/limit value | ratio | goal | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for section in sections:
        item = section.title.split(".", 1)[0]
        if section.status == "not measured":
            lines.append(f"| {item} | {section.title} | not measured: {section.reason} | | | | | |")
            continue
        for f in section.figures:
            ratio = f"{_fmt(f.ratio)} ({f.ratio_label})" if f.ratio is not None else "—"
            lines.append(
                f"| {item} | {f.name} | {_fmt(f.value)} {f.unit} | {f.peer} | "
                f"{_fmt(f.peer_value)} | {ratio} | {f.goal or ''} | {_met(f)} |"
            )
    return lines


def render(results: BenchResults, findings: list[str]) -> str:
    m = results.machine
    lines = [
        "# Warden bench report",
        "",
        f"Run: `{results.command}` at {results.started_at} UTC, {results.seconds:.0f} s total"
        + (" (quick mode: tiny sizes, not representative)" if results.quick else "")
        + ".",
        f"Machine: {m.cpu_count} CPUs, load average {m.load_avg_1m} at start, Python {m.python}"
        + (f", torch threads {m.torch_threads}" if m.torch_threads else "")
        + ". Other work shares these cores, so every figure is a ratio to something measured "
        "in the same run; absolute times drift between runs.",
        "",
        "## Figures",
        "",
        *figure_rows(results.sections),
        "",
    ]
    if findings:
        lines += ["## Slow parts found, and what was done", "", *findings, ""]
    for section in results.sections:
        lines += [f"## {section.title}", ""]
        state = section.status + (f": {section.reason}" if section.reason else "")
        lines += [f"Status: {state}. Time: {section.seconds:.0f} s.", ""]
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
        for chart in section.charts:
            lines += [f"![{chart.title}](charts/{chart.file})", ""]
        table = section.data.get("table")
        if isinstance(table, list) and table:
            keys = list(table[0])
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            for row in table:
                lines.append("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
            lines.append("")
    return "\n".join(lines) + "\n"


def write(results: BenchResults, out: Path, findings: list[str]) -> Path:
    """Write results.json, REPORT.md and charts/*.png into `out`; return the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    for section in results.sections:
        for chart in section.charts:
            if chart.curves:
                draw(chart, out / "charts")
    (out / "results.json").write_text(results.model_dump_json(indent=2) + "\n", encoding="utf-8")
    report = out / "REPORT.md"
    report.write_text(render(results, findings), encoding="utf-8")
    return report
