"""13. Hostile case files: deep JSON, an item id twice in a case, a line that conflicts with what
is stored, among good lines.

Pass: every bad line is reported with its line number (no traceback, exit 1 or 2), all-or-nothing
stores nothing, `--keep-valid` stores exactly the good lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.security.conftest import Figures
from tests.tools.helpers import case_line
from tools.cli import register
from warden.errors import InputError

BAD = {
    2: '{"id": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    3: case_line("case-dup", [("c-dup", "a-1", "one"), ("c-dup", "a-1", "two")]),
    5: '{"id": "deep-signals", "opened_at": "2026-11-19T09:00:00Z", "items": [], "signals": '
    + '{"a": ' * 50_000
    + "1"
    + "}" * 50_000
    + "}",
    6: case_line("case-clash", [("c-1", "a-other", "different text for a stored item")]),
}
GOOD = {
    1: case_line("case-1", [("c-1", "a-1", "first")]),
    4: case_line("case-4", [("c-4", "a-4", "fourth")]),
}


@pytest.fixture
def run(warden_home: Path) -> Any:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def _file(tmp_path: Path) -> Path:
    lines = {**GOOD, **BAD}
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines[n] for n in sorted(lines)) + "\n")
    return path


def _stored(run: Any) -> set[str]:
    listed = run("cases", "list").output
    return {line.split()[0] for line in listed.splitlines() if line.startswith("case-")}


def test_all_or_nothing_names_every_bad_line_and_stores_nothing(
    run: Any, tmp_path: Path, figures: Figures
) -> None:
    result = run("cases", "import", str(_file(tmp_path)))
    figures.tried = len(BAD)
    text = str(result.exception) if result.exception else result.output
    named = [n for n in BAD if f"line {n}:" in text]
    figures.rejected = len(named)
    figures.server_errors = int(not isinstance(result.exception, InputError))
    assert "Traceback" not in result.output and "RecursionError" not in text
    # Line 6 clashes only with line 1, which all-or-nothing never stores.
    assert sorted(named) == [2, 3, 5], text
    assert _stored(run) == set()
    figures.accepted = len(_stored(run))


def test_keep_valid_imports_the_good_lines_and_reports_the_rest(
    run: Any, tmp_path: Path, figures: Figures
) -> None:
    result = run("cases", "import", "--keep-valid", str(_file(tmp_path)))
    figures.tried = len(BAD) + len(GOOD)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and "Traceback" not in result.output
    named = [n for n in BAD if f"line {n}:" in result.output]
    figures.rejected = len(named)
    stored = _stored(run)
    figures.accepted = len(stored - {"case-1", "case-4"})
    figures.lost = len({"case-1", "case-4"} - stored)
    figures.note(f"keep-valid: {len(stored)} good lines stored, bad lines named: {named}")
    assert sorted(named) == sorted(BAD), result.output
    assert stored == {"case-1", "case-4"}
    assert "appears twice" in result.output and "nested too deeply" in result.output
