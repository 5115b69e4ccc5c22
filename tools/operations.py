"""What the ops lead reads first: backlog and queue age per pod, actions applied by type and
automation, turnaround and handling time per pod and vendor team.

Definitions (the report repeats them):
- Backlog: cases not yet decided (new, in review, escalated); a case's pod is the escalation
  pod of the policy it names, else of the policy its classifier signals match ("unrouted"
  without either). Queue age = now - opened.
- Turnaround (TAT): case opened -> its first decision (a decided proposal or a resolved
  escalation). Handling time: that proposal or escalation opened -> decided, the time people
  spent on it once it was in front of them.
- Actions applied: statements of reasons issued (one per applied action), by action and by how
  automated the decision was; a review's outcome notice (appeal, QA reversal) is not one.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import select

from tools.dsa import is_notice
from tools.models import StatementOfReasons
from tools.store import Store, utc
from tools.tables import CaseRow, EscalationRow, ProposalRow, StatementRow

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

OPEN_STATUSES = ("new", "in_review", "escalated", "open")
DECIDED = ("approved", "rejected", "executing", "executed", "failed")
UNROUTED = "unrouted"


class Backlog(BaseModel):
    pod: str
    open_cases: int
    median_age_hours: float | None
    oldest_age_hours: float | None


class Timing(BaseModel):
    key: str
    n: int
    tat_median_minutes: float | None
    tat_p90_minutes: float | None
    handling_median_minutes: float | None
    handling_p90_minutes: float | None


class ActionCount(BaseModel):
    action: str
    automation: str
    count: int


class Operations(BaseModel):
    backlog: list[Backlog]
    actions: list[ActionCount]
    actions_by_policy: dict[str, int]
    by_pod: list[Timing]
    by_vendor_team: list[Timing]


def _p90(values: list[float]) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _pod(catalogue: Catalogue, policy_id: object) -> str:
    if isinstance(policy_id, str) and policy_id in catalogue.policies:
        return catalogue.policies[policy_id].escalation.pod
    return UNROUTED


def _case_policy(catalogue: Catalogue, data: dict[str, object]) -> object:
    """The policy a case is queued under: the one it names, else the one its signals match."""
    if data.get("policy_id"):
        return data["policy_id"]
    signals = data.get("signals")
    if isinstance(signals, dict):
        matches = catalogue.match_signals({str(k): float(v) for k, v in signals.items()})
        if matches:
            return matches[0].policy_id
    return None


def _timings(groups: dict[str, list[tuple[float, float]]]) -> list[Timing]:
    return [
        Timing(
            key=key,
            n=len(pairs),
            tat_median_minutes=_median([t for t, _ in pairs]),
            tat_p90_minutes=_p90([t for t, _ in pairs]),
            handling_median_minutes=_median([h for _, h in pairs]),
            handling_p90_minutes=_p90([h for _, h in pairs]),
        )
        for key, pairs in sorted(groups.items())
    ]


def compute(store: Store, catalogue: Catalogue, *, since: datetime, now: datetime) -> Operations:
    since, now = utc(since), utc(now)
    with store.session() as s:
        cases = {row.id: row for row in s.scalars(select(CaseRow))}
        # A QA reversal is a review of a decision, not a case's decision: no turnaround.
        proposals = s.scalars(
            select(ProposalRow).where(
                ProposalRow.decided_at >= since,
                ProposalRow.status.in_(DECIDED),
                ProposalRow.origin != "qa",
            )
        ).all()
        escalations = s.scalars(
            select(EscalationRow).where(EscalationRow.resolved_at >= since)
        ).all()
        # A review's outcome notice (appeal, QA reversal) is not an action applied.
        statements = [
            sor
            for data in s.scalars(
                select(StatementRow.data).where(
                    StatementRow.issued_at >= since, StatementRow.issued_at < now
                )
            )
            if not is_notice(sor := StatementOfReasons.model_validate(data))
        ]
    ages: dict[str, list[float]] = defaultdict(list)
    for row in cases.values():
        if row.status in OPEN_STATUSES:
            pod = _pod(catalogue, _case_policy(catalogue, row.data))
            ages[pod].append((now - utc(row.opened_at)).total_seconds() / 3600)
    backlog = [
        Backlog(
            pod=pod,
            open_cases=len(hours),
            median_age_hours=_median(hours),
            oldest_age_hours=max(hours),
        )
        for pod, hours in sorted(ages.items())
    ]
    # First decision per case (or per proposal / escalation without a case).
    first: dict[str, tuple[datetime, datetime, datetime, str, str]] = {}

    def consider(
        key: str, opened: datetime, began: datetime, decided: datetime, pod: str, team: str
    ) -> None:
        if key not in first or decided < first[key][2]:
            first[key] = (opened, began, decided, pod, team)

    for p in proposals:
        assert p.decided_at is not None
        case = cases.get(p.case_id or "")
        began = utc(p.created_at)
        consider(
            p.case_id or f"proposal:{p.id}",
            utc(case.opened_at) if case else began,
            began,
            utc(p.decided_at),
            _pod(catalogue, p.policy_id),
            (case.vendor_team if case else None) or "in-house",
        )
    for e in escalations:
        assert e.resolved_at is not None
        case = cases.get(e.case_id or "")
        began = utc(e.opened_at)
        consider(
            e.case_id or f"escalation:{e.id}",
            utc(case.opened_at) if case else began,
            began,
            utc(e.resolved_at),
            e.pod,
            (case.vendor_team if case else None) or "in-house",
        )
    by_pod: dict[str, list[tuple[float, float]]] = defaultdict(list)
    by_team: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for opened, began, decided, pod, team in first.values():
        if not since <= decided < now:
            continue
        pair = ((decided - opened).total_seconds() / 60, (decided - began).total_seconds() / 60)
        by_pod[pod].append(pair)
        by_team[team].append(pair)
    actions = Counter(
        (sor.action.value if sor.action else "(unrecorded)", sor.automated_decision.value)
        for sor in statements
    )
    # A section id starts with its policy's id (HA-2.3 is under HA).
    per_policy = Counter(sor.section_id.split("-", 1)[0] for sor in statements if sor.section_id)
    return Operations(
        backlog=backlog,
        actions_by_policy=dict(sorted(per_policy.items())),
        actions=[
            ActionCount(action=a, automation=m, count=n) for (a, m), n in sorted(actions.items())
        ],
        by_pod=_timings(by_pod),
        by_vendor_team=_timings(by_team),
    )
