"""Dataset loaders: labelled rows become `Case`s (content only) plus what a correct answer is."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from knowledge.vocabulary import ActionType
from ops.mappings import OWN_FORMAT, Mapping
from tools.models import Case, ContentItem
from warden.errors import InputError

# Evaluation cases are never stored as real cases; a fixed opening time keeps runs reproducible.
EVAL_OPENED_AT = datetime(2024, 1, 1, tzinfo=UTC)


class LabelledCase(BaseModel):
    """One evaluation row. `known` None means every policy is labelled (absent = negative)."""

    model_config = ConfigDict(frozen=True)

    case: Case
    positives: frozenset[str]
    known: frozenset[str] | None
    expected_action: ActionType | None = None
    group: str | None = None
    line: int
    row_id: str | None = None
    """The data set's own row id (its id column), else the line number."""
    gold_label: str | None = None
    """The data set's own label for the row, as written there (e.g. `hateful`)."""

    def label(self, policy_id: str) -> bool | None:
        """True / False for this policy, or None when the data set does not say."""
        if policy_id in self.positives:
            return True
        if self.known is None or policy_id in self.known:
            return False
        return None


def _open_text(path: Path) -> IO[str]:
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        return path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot open data set: {exc}") from exc


def _content_case(mapping: Mapping, row_id: str, text: str) -> Case:
    # Only the content goes in: no signals derived from labels (that would grade the answer key).
    return Case(
        id=f"{mapping.name}-{row_id}",
        opened_at=EVAL_OPENED_AT,
        items=[
            ContentItem(
                id=f"{mapping.name}-{row_id}-c", kind="comment", author_id="eval", text=text
            )
        ],
        source="evaluation",
    )


def _category_labels(mapping: Mapping, row: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Positives and known policies of a multi-label row; missing keys stay unknown."""
    values: dict[str, int | None] = {}
    for key in mapping.categories:
        raw = row.get(key)
        if raw is None or raw == "":
            values[key] = None
            continue
        try:
            values[key] = int(raw)
        except (TypeError, ValueError):
            values[key] = None
    for key, cat in mapping.categories.items():
        if values[key] is None and cat.parent is not None and values.get(cat.parent) == 0:
            values[key] = 0
    by_policy: dict[str, list[int | None]] = {}
    for key, cat in mapping.categories.items():
        by_policy.setdefault(cat.policy, []).append(values[key])
    positives = {p for p, vs in by_policy.items() if any(v == 1 for v in vs)}
    negatives = {p for p, vs in by_policy.items() if all(v == 0 for v in vs)}
    return positives, positives | negatives


def _primary_category(mapping: Mapping, row: dict[str, Any]) -> str:
    """The row's group: its most specific positive category (a sub-category beats its parent)."""
    positive = [k for k in mapping.categories if str(row.get(k)) == "1"]
    specific = [k for k in positive if mapping.categories[k].parent is not None]
    return (specific or positive or ["none"])[0]


def _mapped_row(mapping: Mapping, row: dict[str, Any], index: int) -> LabelledCase:
    text = row.get(mapping.text_field)
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"row {index}: field '{mapping.text_field}' is missing or empty")
    row_id = str(row.get(mapping.id_field) or index) if mapping.id_field else str(index)
    group = str(row[mapping.group_field]) if mapping.group_field in row else None
    if mapping.label_field:
        value = str(row.get(mapping.label_field, ""))
        if value not in mapping.values:
            raise InputError(
                f"row {index}: label '{value}' in '{mapping.label_field}' is not in the "
                f"mapping '{mapping.name}' (known: {', '.join(mapping.values)})"
            )
        policy = mapping.values[value].policy
        positives = {policy} if policy else set()
        known = set(mapping.scope)
    else:
        positives, known = _category_labels(mapping, row)
        group = _primary_category(mapping, row)
    label = (
        str(row.get(mapping.label_field, ""))
        if mapping.label_field
        else ",".join(sorted(positives)) or "none"
    )
    return LabelledCase(
        case=_content_case(mapping, row_id, text),
        positives=frozenset(positives),
        known=frozenset(known),
        group=group,
        line=index,
        row_id=row_id,
        gold_label=label,
    )


class OwnRow(BaseModel):
    """Warden's own labelled format: a full case, or just text, plus the expected outcome."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    text: str | None = None
    case: Case | None = None
    expected_policy: str | None
    expected_action: ActionType | None = None
    group: str | None = None


def _own_row(mapping: Mapping, raw: dict[str, Any], index: int) -> LabelledCase:
    try:
        row = OwnRow.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(row)"
        raise InputError(f"line {index}: {where}: {first['msg']}") from exc
    if row.case is not None:
        case = row.case
    elif row.text:
        case = _content_case(mapping, row.id or str(index), row.text)
    else:
        raise InputError(f"line {index}: give either 'case' or 'text'")
    return LabelledCase(
        case=case,
        positives=frozenset({row.expected_policy} if row.expected_policy else set()),
        known=None,
        expected_action=row.expected_action,
        group=row.group,
        line=index,
        row_id=row.id or str(index),
        gold_label=row.expected_policy or "none",
    )


def _jsonl_rows(handle: IO[str], path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise InputError(f"{path.name} line {number}: expected a JSON object")
        yield number, raw


def iter_dataset(
    path: Path, mapping: Mapping, *, limit: int | None = None
) -> Iterator[LabelledCase]:
    """Yield labelled cases in file order, at most `limit`."""
    if limit is not None and limit <= 0:
        return
    count = 0
    with _open_text(path) as handle:
        rows: Iterator[tuple[int, dict[str, Any]]]
        if mapping.format == "csv":
            rows = ((n, dict(r)) for n, r in enumerate(csv.DictReader(handle), start=2))
        else:
            rows = _jsonl_rows(handle, path)
        for number, raw in rows:
            try:
                if mapping.name == OWN_FORMAT:
                    yield _own_row(mapping, raw, number)
                else:
                    yield _mapped_row(mapping, raw, number)
            except InputError as exc:
                raise InputError(f"{path.name}: {exc}") from exc
            count += 1
            if limit is not None and count >= limit:
                return


def load_dataset(path: Path, mapping: Mapping, *, limit: int | None = None) -> list[LabelledCase]:
    """Read the whole data set (or its first `limit` rows)."""
    if not path.is_file():
        raise InputError(f"{path}: data set not found")
    return list(iter_dataset(path, mapping, limit=limit))
