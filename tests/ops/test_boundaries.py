"""`ops/` knows no Slack: no module of it imports slackapp or the Slack SDK, even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import ops

SLACK = {"slackapp", "slack_sdk", "slack_bolt"}


def test_no_ops_module_imports_slack() -> None:
    found = []
    for path in Path(ops.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in SLACK]
    assert found == []
