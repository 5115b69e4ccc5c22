"""Small builders for store tests (cases written here, not taken from the sample set)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
APPROVERS = {"U_LEAD1", "U_LEAD2", "U_LEAD3"}


def case_line(case_id: str, items: list[tuple[str, str, str]], **extra: Any) -> str:
    """One JSONL line: items are (content id, author id, text)."""
    data: dict[str, Any] = {
        "id": case_id,
        "opened_at": "2026-11-19T09:00:00Z",
        "items": [{"id": c, "author_id": a, "text": t} for c, a, t in items],
        "signals": {"hate": 0.93},
        **extra,
    }
    return json.dumps(data)


def two_author_case(case_id: str = "case-1") -> str:
    return case_line(
        case_id,
        [
            ("pin-1", "acct-a", "a pin comparing a group of people to vermin"),
            ("pin-2", "acct-b", "a repost of the same comparison with a caption"),
        ],
    )
