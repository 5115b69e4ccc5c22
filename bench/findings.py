"""What profiling found: turned into report text from the run's own measurements."""

from __future__ import annotations

from bench.results import BenchResults


def findings(results: BenchResults) -> list[str]:
    """Report lines about slow parts, each backed by a figure of this run."""
    lines: list[str] = []
    for section in results.sections:
        profile = section.data.get("profile")
        if isinstance(profile, list) and profile:
            lines.append(f"- {section.title}: profile of Warden's path (share of wall time):")
            lines += [f"  - {row}" for row in profile]
    return lines
