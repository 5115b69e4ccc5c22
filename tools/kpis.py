"""Operations KPIs: turnaround, SLA compliance, volume by policy, appeals, trends and gaps.

Definitions (the report repeats them):
- A case's decision time is its first decided proposal (approved / rejected / executed) or its
  first resolved escalation; turnaround = decision time - case opened. Proposals and escalations
  without a case count from their own creation.
- Volume by policy = proposals created + escalations opened under that policy.
- An escalation meets its SLA when first acknowledged (or resolved) by its SLA deadline; one still
  open past the deadline is breached; one still open within it is pending and not scored.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from tools.casework_tables import CaseWorkRow
from tools.feedback import FeedbackStats, feedback_stats
from tools.gates import shadow_agreement
from tools.ops_tables import AppealRow, QASampleRow
from tools.qa import QualityScores, quality_scores
from tools.store import Store
from tools.tables import CaseRow, EscalationRow, ProposalRow, StrikeRow
from warden.errors import InputError

DECIDED_PROPOSALS = ("approved", "rejected", "executing", "executed", "failed")
WEEK = timedelta(days=7)
# A gap is called out only on enough data to mean something.
MIN_VOLUME_FOR_TREND = 5
RISING_FACTOR = 1.25
MIN_REVIEWS_FOR_TREND = 3
AGREEMENT_DROP = 0.05


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---- appeals --------------------------------------------------------------------------------


class Appeal(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    action_key: str
    policy_id: str | None
    account_id: str | None
    filed_at: datetime
    outcome: Literal["pending", "upheld", "overturned"]
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    original_decider: str | None = None  # issue 11: who made the decision appealed
    vendor_team: str | None = None


# ---- raw facts --------------------------------------------------------------------------------


class _Decision(BaseModel):
    key: str
    policy_id: str | None
    opened_at: datetime
    decided_at: datetime

    @property
    def minutes(self) -> float:
        return (self.decided_at - self.opened_at).total_seconds() / 60


class _Escalation(BaseModel):
    policy_id: str | None
    priority: str
    opened_at: datetime
    sla_due_at: datetime
    responded_at: datetime | None


class _Facts(BaseModel):
    cases_opened: list[datetime]
    decisions: list[_Decision]
    work: list[tuple[str, datetime]] = Field(description="(policy, when) of proposals/escalations")
    escalations: list[_Escalation]
    appeals: list[Appeal]
    overturned_strikes: int


def _first_response(e: EscalationRow) -> datetime | None:
    first = e.acknowledged_at or e.resolved_at
    return _utc(first) if first is not None else None


def _facts(store: Store, since: datetime, until: datetime) -> _Facts:
    with store.session() as s:
        cases = s.execute(
            select(CaseRow.id, CaseRow.opened_at).where(
                CaseRow.opened_at >= since, CaseRow.opened_at < until
            )
        ).all()
        proposals = s.scalars(
            select(ProposalRow).where(
                (ProposalRow.created_at >= since) | (ProposalRow.decided_at >= since)
            )
        ).all()
        escalations = s.scalars(
            select(EscalationRow).where(
                (EscalationRow.opened_at >= since) | (EscalationRow.resolved_at >= since)
            )
        ).all()
        case_ids = {p.case_id for p in proposals if p.case_id} | {
            e.case_id for e in escalations if e.case_id
        }
        opened_of = {
            cid: _utc(at)
            for cid, at in s.execute(
                select(CaseRow.id, CaseRow.opened_at).where(CaseRow.id.in_(case_ids))
            )
        }
        appeals = [
            Appeal.model_validate(r)
            for r in s.scalars(select(AppealRow).where(AppealRow.filed_at >= since))
        ]
        case_work = [
            (w, opened)
            for w, opened in s.execute(
                select(CaseWorkRow, CaseRow.opened_at)
                .join(CaseRow, CaseRow.id == CaseWorkRow.case_id)
                .where(CaseWorkRow.decided_at >= since)
            )
        ]
        overturned = s.scalar(
            select(func.count())
            .select_from(StrikeRow)
            .where(StrikeRow.overturned.is_(True), StrikeRow.overturned_at >= since)
        )

    first: dict[str, _Decision] = {}

    def consider(key: str, policy: str | None, opened: datetime, decided: datetime) -> None:
        d = _Decision(key=key, policy_id=policy, opened_at=opened, decided_at=decided)
        if key not in first or d.decided_at < first[key].decided_at:
            first[key] = d

    for p in proposals:
        if p.status in DECIDED_PROPOSALS and p.decided_at is not None:
            opened = opened_of.get(p.case_id or "", _utc(p.created_at))
            consider(p.case_id or f"proposal:{p.id}", p.policy_id, opened, _utc(p.decided_at))
    for w, case_opened in case_work:  # a specialist's own decision (issue 11)
        section = w.section_id or w.exception_section
        policy = section.split("-", 1)[0] if section else None
        if w.decided_at is not None:
            consider(w.case_id, policy, _utc(case_opened), _utc(w.decided_at))
    for e in escalations:
        if e.resolved_at is not None:
            opened = opened_of.get(e.case_id or "", _utc(e.opened_at))
            consider(e.case_id or f"escalation:{e.id}", e.policy_id, opened, _utc(e.resolved_at))
    work = [(p.policy_id, _utc(p.created_at)) for p in proposals if _utc(p.created_at) >= since]
    work += [
        (e.policy_id or "(none)", _utc(e.opened_at))
        for e in escalations
        if _utc(e.opened_at) >= since
    ]
    return _Facts(
        cases_opened=[_utc(at) for _, at in cases],
        decisions=[d for d in first.values() if since <= d.decided_at < until],
        work=[(p, at) for p, at in work if at < until],
        escalations=[
            _Escalation(
                policy_id=e.policy_id,
                priority=e.priority,
                opened_at=_utc(e.opened_at),
                sla_due_at=_utc(e.sla_due_at),
                responded_at=_first_response(e),
            )
            for e in escalations
            if since <= _utc(e.opened_at) < until
        ],
        appeals=[a for a in appeals if a.filed_at < until],
        overturned_strikes=int(overturned or 0),
    )


# ---- figures --------------------------------------------------------------------------------


class Turnaround(BaseModel):
    n: int
    median_minutes: float | None
    p90_minutes: float | None


def _turnaround(decisions: Sequence[_Decision]) -> Turnaround:
    minutes = sorted(d.minutes for d in decisions)
    if not minutes:
        return Turnaround(n=0, median_minutes=None, p90_minutes=None)
    p90 = minutes[min(len(minutes) - 1, int(0.9 * len(minutes)))]
    return Turnaround(n=len(minutes), median_minutes=statistics.median(minutes), p90_minutes=p90)


class SlaRow(BaseModel):
    priority: str
    total: int
    met: int
    breached: int
    pending: int

    @property
    def compliance(self) -> float | None:
        scored = self.met + self.breached
        return self.met / scored if scored else None


def _sla(escalations: Sequence[_Escalation], now: datetime) -> list[SlaRow]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for e in escalations:
        c = counts[e.priority]
        c["total"] += 1
        if e.responded_at is not None:
            c["met" if e.responded_at <= e.sla_due_at else "breached"] += 1
        elif now > e.sla_due_at:
            c["breached"] += 1
        else:
            c["pending"] += 1
    return [
        SlaRow(
            priority=p, total=c["total"], met=c["met"], breached=c["breached"], pending=c["pending"]
        )
        for p, c in sorted(counts.items())
    ]


class PolicyTrend(BaseModel):
    policy_id: str
    volume_this_week: int
    volume_last_week: int
    qa_this_week: float | None
    qa_last_week: float | None
    reviews_this_week: int
    reviews_last_week: int
    shadow_agreement: float | None
    median_turnaround_minutes: float | None


class WeekRow(BaseModel):
    week_start: datetime
    cases_opened: int
    decisions: int
    median_turnaround_minutes: float | None
    sla_compliance: float | None
    qa_agreement: float | None


class AppealStats(BaseModel):
    filed: int
    decided: int
    overturned: int
    overturned_strikes: int

    @property
    def overturn_rate(self) -> float | None:
        return self.overturned / self.decided if self.decided else None


class KPIReport(BaseModel):
    since: datetime
    until: datetime
    cases_opened: int
    turnaround: Turnaround
    sla: list[SlaRow]
    volume_by_policy: dict[str, int]
    appeals: AppealStats
    appeals_by_policy: dict[str, AppealStats]
    appeals_by_specialist: dict[str, AppealStats] = Field(default_factory=dict)
    appeals_by_vendor_team: dict[str, AppealStats] = Field(default_factory=dict)
    quality: QualityScores
    trends: list[PolicyTrend]
    weeks: list[WeekRow]
    gaps: list[str]
    # issue 13: thumbs up / down on answers, per prompt version and model
    feedback: FeedbackStats = Field(default_factory=FeedbackStats)


def _appeal_stats(appeals: Sequence[Appeal], overturned_strikes: int = 0) -> AppealStats:
    decided = [a for a in appeals if a.outcome != "pending"]
    return AppealStats(
        filed=len(appeals),
        decided=len(decided),
        overturned=sum(1 for a in decided if a.outcome == "overturned"),
        overturned_strikes=overturned_strikes,
    )


def _appeals_by(
    appeals: Sequence[Appeal], key: Callable[[Appeal], str | None]
) -> dict[str, AppealStats]:
    """Appeal outcomes grouped by who decided originally, or by vendor team (overturn rates)."""
    groups: dict[str, list[Appeal]] = defaultdict(list)
    for a in appeals:
        k = key(a)
        if k is not None:
            groups[k].append(a)
    return {k: _appeal_stats(v) for k, v in sorted(groups.items())}


def _week_start(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _gaps(trends: Sequence[PolicyTrend]) -> list[str]:
    """Name policies whose volume rises or whose QA agreement falls, in plain words."""
    lines = []
    for t in trends:
        if t.volume_this_week >= MIN_VOLUME_FOR_TREND and t.volume_this_week >= RISING_FACTOR * max(
            t.volume_last_week, 1
        ):
            lines.append(
                f"{t.policy_id}: volume rising week over week "
                f"({t.volume_last_week} → {t.volume_this_week}); check staffing and detector drift."
            )
        if (
            t.qa_this_week is not None
            and t.qa_last_week is not None
            and t.reviews_this_week >= MIN_REVIEWS_FOR_TREND
            and t.reviews_last_week >= MIN_REVIEWS_FOR_TREND
            and t.qa_last_week - t.qa_this_week >= AGREEMENT_DROP
        ):
            lines.append(
                f"{t.policy_id}: QA agreement falling ({_pct(t.qa_last_week)} → "
                f"{_pct(t.qa_this_week)}); review the disagreements and calibrate the team."
            )
    return lines


def compute_kpis(store: Store, *, now: datetime, since: datetime | None = None) -> KPIReport:
    """Every KPI from `since` (default: four weeks back) to `now`."""
    now = _utc(now)
    since = _utc(since) if since else _week_start(now) - 3 * WEEK
    if since >= now:
        raise InputError(f"--since {since:%Y-%m-%d} is not before now ({now:%Y-%m-%d %H:%M} UTC).")
    facts = _facts(store, since, now)
    this_week = _week_start(now)
    last_week = this_week - WEEK
    quality = quality_scores(store, since=since, until=now)
    qa_now = {s.key: s for s in quality_scores(store, since=this_week, until=now).by_policy}
    qa_before = {
        s.key: s for s in quality_scores(store, since=last_week, until=this_week).by_policy
    }
    shadow = {a.policy_id: a.rate for a in shadow_agreement(store, since=since)}
    volume = Counter(p for p, _ in facts.work)
    policies = sorted(set(volume) | set(qa_now) | set(qa_before) | set(shadow))
    by_policy_decisions: dict[str | None, list[_Decision]] = defaultdict(list)
    for d in facts.decisions:
        by_policy_decisions[d.policy_id].append(d)
    trends = []
    for pid in policies:
        q_now, q_before = qa_now.get(pid), qa_before.get(pid)
        trends.append(
            PolicyTrend(
                policy_id=pid,
                volume_this_week=sum(1 for p, at in facts.work if p == pid and at >= this_week),
                volume_last_week=sum(
                    1 for p, at in facts.work if p == pid and last_week <= at < this_week
                ),
                qa_this_week=q_now.rate if q_now else None,
                qa_last_week=q_before.rate if q_before else None,
                reviews_this_week=q_now.reviewed if q_now else 0,
                reviews_last_week=q_before.reviewed if q_before else 0,
                shadow_agreement=shadow.get(pid),
                median_turnaround_minutes=_turnaround(by_policy_decisions[pid]).median_minutes,
            )
        )
    weeks = []
    start = _week_start(since)
    while start < now:
        end = start + WEEK
        decided = [d for d in facts.decisions if start <= d.decided_at < end]
        sla_rows = _sla([e for e in facts.escalations if start <= e.opened_at < end], now)
        met = sum(r.met for r in sla_rows)
        scored = met + sum(r.breached for r in sla_rows)
        qa = quality_scores(store, since=start, until=end)
        weeks.append(
            WeekRow(
                week_start=start,
                cases_opened=sum(1 for at in facts.cases_opened if start <= at < end),
                decisions=len(decided),
                median_turnaround_minutes=_turnaround(decided).median_minutes,
                sla_compliance=met / scored if scored else None,
                qa_agreement=qa.overall,
            )
        )
        start = end
    by_policy_appeals: dict[str, list[Appeal]] = defaultdict(list)
    for a in facts.appeals:
        by_policy_appeals[a.policy_id or "(none)"].append(a)
    return KPIReport(
        since=since,
        until=now,
        cases_opened=len(facts.cases_opened),
        turnaround=_turnaround(facts.decisions),
        sla=_sla(facts.escalations, now),
        volume_by_policy=dict(sorted(volume.items())),
        appeals=_appeal_stats(facts.appeals, facts.overturned_strikes),
        appeals_by_policy={p: _appeal_stats(a) for p, a in sorted(by_policy_appeals.items())},
        appeals_by_specialist=_appeals_by(facts.appeals, lambda a: a.original_decider),
        appeals_by_vendor_team=_appeals_by(facts.appeals, lambda a: a.vendor_team or "in-house"),
        quality=quality,
        trends=trends,
        weeks=weeks,
        gaps=_gaps(trends),
        feedback=feedback_stats(store, since=since, until=now),
    )


class Headline(BaseModel):
    """Three numbers for App Home."""

    volume_today: int = Field(description="cases opened since midnight UTC")
    decided_today: int
    median_turnaround_minutes: float | None = Field(description="of today's decisions")
    sla_breaches: int = Field(description="open escalations past their SLA deadline")
    qa_pending: int

    def summary(self) -> str:
        turnaround = (
            "n/a"
            if self.median_turnaround_minutes is None
            else _minutes(self.median_turnaround_minutes)
        )
        return (
            f"Today: {self.volume_today} cases opened, {self.decided_today} decided, "
            f"median turnaround {turnaround}, {self.sla_breaches} SLA breaches open, "
            f"{self.qa_pending} QA reviews waiting"
        )


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def headline(store: Store, now: datetime) -> Headline:
    """Today's volume, median turnaround and open SLA breaches (for App Home)."""
    now = _utc(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    facts = _facts(store, midnight, now + timedelta(microseconds=1))
    with store.session() as s:
        breaches = s.scalar(
            select(func.count())
            .select_from(EscalationRow)
            .where(
                EscalationRow.resolved_at.is_(None),
                EscalationRow.acknowledged_at.is_(None),
                EscalationRow.sla_due_at < now,
            )
        )
        qa_pending = s.scalar(
            select(func.count()).select_from(QASampleRow).where(QASampleRow.agree.is_(None))
        )
    return Headline(
        volume_today=len(facts.cases_opened),
        decided_today=len(facts.decisions),
        median_turnaround_minutes=_turnaround(facts.decisions).median_minutes,
        sla_breaches=int(breaches or 0),
        qa_pending=int(qa_pending or 0),
    )
