"""Check what Slack received: every `blocks` and `view` payload of recorded Web API calls parses
with slack_sdk's Block Kit models and stays within Slack's documented limits.

    python -m slackapp.callcheck var/demo/slack-calls.jsonl

The input is what `make demo` writes (one JSON object per call: method, args) or the stand-in's
`calls`. slack_sdk's `validate_json` enforces the per-element limits (text lengths, option
counts, ...); `check_blocks` adds the message-level ones (50 blocks, section text, fields).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slackapp.blocks import check_blocks

MAX_VIEW_BLOCKS = 100  # modals and App Home (messages: 50, checked by check_blocks)
MAX_TEXT = 40_000  # chat.postMessage `text` (Slack truncates past this)
MAX_PRIVATE_METADATA = 3000
MAX_BLOCK_ID = 255
MAX_ACTION_ID = 255


def _block_problems(blocks: list[Any], where: str, *, max_blocks: int) -> list[str]:
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"{where}: {len(blocks)} blocks (limit {max_blocks})")
    if max_blocks == 50:
        try:
            check_blocks(blocks)
        except (ValueError, KeyError) as exc:
            problems.append(f"{where}: {exc}")
    for i, raw in enumerate(blocks):
        block_id = raw.get("block_id")
        if block_id is not None and len(str(block_id)) > MAX_BLOCK_ID:
            problems.append(f"{where} block {i}: block_id over {MAX_BLOCK_ID} characters")
        for element in raw.get("elements", []) if isinstance(raw.get("elements"), list) else []:
            if isinstance(element, dict) and len(str(element.get("action_id", ""))) > MAX_ACTION_ID:
                problems.append(f"{where} block {i}: action_id over {MAX_ACTION_ID} characters")
        parsed = Block.parse(raw)
        if parsed is None or type(parsed) is Block:
            problems.append(f"{where} block {i}: slack_sdk does not know {raw.get('type')!r}")
            continue
        try:
            parsed.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"{where} block {i} ({raw.get('type')}): {exc}")
    return problems


def _view_problems(view: dict[str, Any], where: str) -> list[str]:
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.views import View

    problems = _block_problems(view.get("blocks", []), where, max_blocks=MAX_VIEW_BLOCKS)
    if len(view.get("private_metadata") or "") > MAX_PRIVATE_METADATA:
        problems.append(f"{where}: private_metadata over {MAX_PRIVATE_METADATA} characters")
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        problems.append(f"{where}: {exc}")
    return problems


def check_calls(calls: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """(payloads checked, problems) over calls given as {"method", "args"} objects."""
    checked = 0
    problems: list[str] = []
    for n, call in enumerate(calls, 1):
        method, args = call["method"], call.get("args") or {}
        where = f"call {n} {method}"
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks:
            checked += 1
            problems += _block_problems(blocks, where, max_blocks=50)
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if view:
            checked += 1
            problems += _view_problems(view, where)
        if len(str(args.get("text") or "")) > MAX_TEXT:
            problems.append(f"{where}: text over {MAX_TEXT} characters")
    return checked, problems


def read_calls(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m slackapp.callcheck SLACK_CALLS_JSONL", file=sys.stderr)
        return 2
    path = Path(args[0])
    if not path.is_file():
        print(f"no such file: {path} (run `make demo` first)", file=sys.stderr)
        return 2
    checked, problems = check_calls(read_calls(path))
    for problem in problems:
        print(problem)
    print(f"{checked} payloads checked, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
