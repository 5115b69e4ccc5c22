"""What profiling found: report lines each section builds from its own measurements."""

from __future__ import annotations

from bench.results import BenchResults


def findings(results: BenchResults) -> list[str]:
    """Every section's findings, then its profile lines, in section order."""
    lines: list[str] = []
    for section in results.sections:
        found = section.data.get("findings")
        if isinstance(found, list):
            lines += [f"- {line}" for line in found]
        profile = section.data.get("profile")
        if isinstance(profile, list) and profile:
            lines.append(f"- {section.title}: self time by component (pyinstrument):")
            lines += [f"  - {row}" for row in profile]
    return lines
