"""Judgment on labelled data: simulated upstream signals, one record per case, verdicts per
group (HateCheck functionality), and context recall of the LLM path.

    warden eval hatecheck_test_suite_cases.csv --assume-signal hate=0.95 \
        --cases-out cases.jsonl --context-recall

To judge a change on rows it was not developed on, split the set into two halves by a template
column (rows made from one template stay together), develop on one and report both:

    python -m ops.judgment split hatecheck_test_suite_cases.csv --by templ_id --out var/halves

`--assume-signal` simulates an upstream classifier that fires on every case, as real classifiers
do on counter-speech and reclaimed slurs; the question is then whether the policy's exceptions
keep those cases from being drafted `violating`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agent.interface import Recommendation
from ops.loaders import LabelledCase
from tools.models import Case
from warden.errors import InputError, WardenError

if TYPE_CHECKING:
    from agent.deps import Deps

VERDICTS = ("violating", "borderline", "not_violating", "escalate")
_SIGNAL = re.compile(r"^([A-Za-z0-9_/.-]+)=([0-9]*\.?[0-9]+)$")
_SECTION_HEAD = re.compile(r"^\[([A-Z]{2,4}-\d+(?:\.\d+)*)\] ", re.M)


def parse_signals(values: Iterable[str]) -> dict[str, float]:
    """`NAME=SCORE` pairs (score 0-1) as a dict; a malformed one is a clear error."""
    out: dict[str, float] = {}
    for value in values:
        match = _SIGNAL.match(value.strip())
        if match is None or not 0.0 <= float(match.group(2)) <= 1.0:
            raise InputError(
                f"--assume-signal {value!r}: expected NAME=SCORE with a score from 0 to 1, "
                "e.g. hate=0.95"
            )
        out[match.group(1)] = float(match.group(2))
    return out


def with_signals(rows: Sequence[LabelledCase], signals: dict[str, float]) -> list[LabelledCase]:
    """The rows with these classifier signals on every case (the content is untouched)."""
    if not signals:
        return list(rows)
    return [
        row.model_copy(
            update={
                "case": row.case.model_copy(update={"signals": {**row.case.signals, **signals}})
            }
        )
        for row in rows
    ]


def verdict_of(rec: Recommendation | None) -> str:
    """The draft's verdict as the report counts it; a failed or escalated draft is `escalate`."""
    if rec is None or rec.escalate:
        return "escalate"
    return rec.verdict


class CaseRecord(BaseModel):
    """One line of `--cases-out`."""

    id: str
    label: str | None
    group: str | None
    verdict: str
    action: str | None
    sections: list[str]
    mode: str | None


class Recorder:
    """Wraps a recommender and keeps each case's draft (by case id)."""

    def __init__(self, recommend: Callable[[Case], Recommendation]) -> None:
        self._recommend = recommend
        self.drafts: dict[str, Recommendation] = {}

    def __call__(self, case: Case) -> Recommendation:
        rec = self._recommend(case)
        self.drafts[case.id] = rec
        return rec

    def records(self, rows: Sequence[LabelledCase]) -> list[CaseRecord]:
        out = []
        for row in rows:
            rec = self.drafts.get(row.case.id)
            out.append(
                CaseRecord(
                    id=row.row_id or row.case.id,
                    label=row.gold_label,
                    group=row.group,
                    verdict=verdict_of(rec),
                    action=rec.action.value if rec and rec.action else None,
                    sections=list(rec.section_ids) if rec else [],
                    mode=rec.mode if rec else None,
                )
            )
        return out


def write_records(path: Path, records: Sequence[CaseRecord]) -> None:
    try:
        with path.open("w", encoding="utf-8") as handle:
            for r in records:
                handle.write(json.dumps(r.model_dump(mode="json")) + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the cases: {exc}") from exc


@dataclass
class GroupVerdicts:
    """Verdict shares of one group (a HateCheck functionality)."""

    group: str
    label: str | None
    n: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))

    def share(self, verdict: str) -> float:
        return self.counts.get(verdict, 0) / self.n if self.n else 0.0


def by_group(records: Sequence[CaseRecord]) -> list[GroupVerdicts]:
    groups: dict[str, GroupVerdicts] = {}
    for r in records:
        key = r.group or "all"
        g = groups.setdefault(key, GroupVerdicts(group=key, label=r.label))
        g.n += 1
        g.counts[r.verdict] = g.counts.get(r.verdict, 0) + 1
    return sorted(groups.values(), key=lambda g: (str(g.label), g.group))


def totals(
    groups: Sequence[GroupVerdicts], positive: Callable[[str | None], bool]
) -> GroupVerdicts:
    """All groups of one side (e.g. hateful) pooled."""
    pooled = GroupVerdicts(group="pooled", label=None)
    for g in groups:
        if not positive(g.label):
            continue
        pooled.n += g.n
        for verdict, count in g.counts.items():
            pooled.counts[verdict] = pooled.counts.get(verdict, 0) + count
    return pooled


@dataclass
class ContextRecall:
    """Share of rows with a gold exception section whose prompt held that section."""

    rows: int = 0
    held: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.held / self.rows if self.rows else None


def prompt_sections(messages: Sequence[Any]) -> set[str]:
    """Section ids introduced in a prompt (`[HA-3.2] title ...` lines)."""
    text: list[str] = []
    for m in messages:
        content = getattr(m, "content", "")
        if isinstance(content, str):
            text.append(content)
        else:
            text.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return set(_SECTION_HEAD.findall("\n".join(text)))


def context_recall(rows: Sequence[LabelledCase], gold: dict[str, str], deps: Deps) -> ContextRecall:
    """Run every row with a gold section through the LLM path with a scripted model (the
    instant, valid replay model of `agent.measure`) and check the prompt held that section."""
    from dataclasses import replace

    from agent.measure import ReplayModel
    from agent.recommend import recommend

    class Recording(ReplayModel):
        def _generate(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Any:
            seen.update(prompt_sections(messages))
            return super()._generate(messages, stop, run_manager, **kw)

    seen: set[str] = set()
    llm = replace(deps, model=Recording())
    out = ContextRecall()
    for row in rows:
        want = gold.get(row.group or "")
        if want is None:
            continue
        out.rows += 1
        seen.clear()
        with contextlib.suppress(WardenError):
            recommend(llm, row.case)
        if want in seen:
            out.held += 1
        else:
            out.missed.append(row.row_id or row.case.id)
    return out


SPLIT_SEED = 12


def split_halves(dataset: Path, by: str, out: Path, *, seed: int = SPLIT_SEED) -> tuple[Path, Path]:
    """Write a CSV data set as two halves, `<stem>_dev.csv` and `<stem>_test.csv`, splitting the
    distinct values of column `by` at random (fixed seed) so no template is in both."""
    try:
        with dataset.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except OSError as exc:
        raise InputError(f"{dataset}: cannot read it: {exc}") from exc
    if by not in header:
        raise InputError(f"{dataset}: no column {by!r} to split by (columns: {', '.join(header)})")
    keys = sorted({row[by] for row in rows})
    random.Random(seed).shuffle(keys)
    dev_keys = set(keys[: len(keys) // 2])
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / f"{dataset.stem}_dev.csv", out / f"{dataset.stem}_test.csv")
    for path, keep in zip(paths, (True, False), strict=True):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(r for r in rows if (r[by] in dev_keys) is keep)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.judgment")
    sub = parser.add_subparsers(dest="command", required=True)
    split = sub.add_parser("split", help="write a CSV data set as a dev and a test half")
    split.add_argument("dataset", type=Path)
    split.add_argument("--by", required=True, help="column whose values stay together")
    split.add_argument("--out", type=Path, required=True)
    split.add_argument("--seed", type=int, default=SPLIT_SEED)
    args = parser.parse_args(argv)
    for path in split_halves(args.dataset, args.by, args.out, seed=args.seed):
        print(path)


if __name__ == "__main__":
    main()
