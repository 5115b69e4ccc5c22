"""Who an action lands on: only the case's own items and authors, or a detector cluster's items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from knowledge.vocabulary import ACCOUNT_ACTIONS, ActionType
from tools.models import Case, PlannedAction


def planned_actions(
    action: ActionType, section_id: str, content_authors: Mapping[str, str]
) -> list[PlannedAction]:
    """One action per content item, or per distinct author for account-level actions."""
    if action in ACCOUNT_ACTIONS:
        return [
            PlannedAction(
                target_type="account", target_id=account, action=action, section_id=section_id
            )
            for account in sorted(set(content_authors.values()))
        ]
    return [
        PlannedAction(target_type="content", target_id=cid, action=action, section_id=section_id)
        for cid in content_authors
    ]


def case_targets(case: Case, action: ActionType, section_id: str) -> list[PlannedAction]:
    """Targets of `action` on a case: its items, or their authors."""
    return planned_actions(action, section_id, {i.id: i.author_id for i in case.items})


def same_targets(a: Sequence[PlannedAction], b: Sequence[PlannedAction]) -> bool:
    return sorted(x.key for x in a) == sorted(y.key for y in b)
