"""KPIs on synthetic store data: turnaround, SLA by priority, volume, appeals, trends, gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.appeals import decide_appeal, file_appeal
from tools.kpis import compute_kpis, headline
from tools.qa import Decided, maybe_sample, record_review
from tools.store import Store
from tools.tables import CaseRow, EscalationRow, ProposalRow
from warden.errors import InputError

# Friday 20 Nov 2026, noon; this week starts Monday 16 Nov.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def add_case(store: Store, cid: str, opened: datetime, team: str | None = None) -> None:
    with store.session() as s:
        s.add(
            CaseRow(
                id=cid,
                opened_at=opened,
                status="decided",
                source="user_report",
                vendor_team=team,
                data={},
                imported_at=opened,
            )
        )


def add_proposal(
    store: Store,
    pid: str,
    policy: str,
    created: datetime,
    decided: datetime | None,
    status: str,
    case_id: str | None = None,
) -> None:
    with store.session() as s:
        s.add(
            ProposalRow(
                id=pid,
                policy_id=policy,
                policy_version="1",
                section_ids=[f"{policy}-2"],
                action="remove",
                actions=[],
                evidence=[],
                requester_id="agent",
                required_approvals=1,
                status=status,
                created_at=created,
                expires_at=created + 4 * H,
                action_hash="h",
                case_id=case_id,
                decided_by="U9" if decided else None,
                decided_at=decided,
                version=0,
            )
        )


def add_escalation(
    store: Store,
    eid: str,
    policy: str,
    priority: str,
    opened: datetime,
    sla: timedelta,
    acked: datetime | None = None,
    resolved: datetime | None = None,
    case_id: str | None = None,
) -> None:
    with store.session() as s:
        s.add(
            EscalationRow(
                id=eid,
                case_id=case_id,
                policy_id=policy,
                section_ids=[],
                priority=priority,
                pod="pod",
                channel="#c",
                on_call=False,
                opened_by="U1",
                status="resolved" if resolved else "open",
                opened_at=opened,
                sla_due_at=opened + sla,
                acknowledged_at=acked,
                resolved_at=resolved,
                summary="s",
            )
        )


def test_kpis_on_synthetic_data(store: Store) -> None:
    this_week = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    last_week = this_week - timedelta(days=7)
    # Turnaround: case opened -> first decision (proposal decided or escalation resolved).
    add_case(store, "c1", NOW - 5 * H)
    add_proposal(store, "p1", "HA", NOW - 4 * H, NOW - 4 * H, "approved", case_id="c1")
    add_escalation(
        store, "e-c1", "HA", "P2", NOW - 5 * H, 4 * H, resolved=NOW - 1 * H, case_id="c1"
    )  # later than the proposal: the first decision counts
    add_case(store, "c2", NOW - 3 * H)
    add_proposal(store, "p2", "HA", NOW - 3 * H, NOW - 1 * H, "rejected", case_id="c2")
    add_case(store, "c3", NOW - 2 * H)
    add_proposal(store, "p3", "HA", NOW - 2 * H, None, "pending", case_id="c3")
    # HA volume this week: p1, p2, p3, e-c1 + 2 more escalations = 6; last week 1 -> rising.
    add_escalation(store, "e1", "HA", "P0", NOW - 2 * H, 15 * M, acked=NOW - 2 * H + 10 * M)
    add_escalation(store, "e2", "HA", "P0", NOW - 2 * H, 15 * M, acked=NOW - 2 * H + 20 * M)
    add_escalation(store, "e3", "SP", "P1", NOW - 30 * M, 60 * M)  # open, within SLA
    add_escalation(store, "e4", "SP", "P1", NOW - 3 * H, 60 * M)  # open, breached
    add_proposal(store, "p0", "HA", last_week, last_week + H, "executed")
    file_appeal(
        store, action_key="content:x:remove", policy_id="HA", account_id="a1", now=NOW - 2 * H
    )
    ap = file_appeal(
        store, action_key="content:y:remove", policy_id="HA", account_id="a2", now=NOW - 2 * H
    )
    file_appeal(store, action_key="content:z:remove", policy_id="SP", account_id="a3", now=NOW - H)
    decide_appeal(store, ap.id, outcome="overturned", decided_by="L1", reason="satire", now=NOW)
    with pytest.raises(InputError, match="already decided"):
        decide_appeal(store, ap.id, outcome="upheld", decided_by="L1", reason="x", now=NOW)
    # QA: HA agreement 4/4 last week, 1/4 this week -> falling.
    for n in range(8):
        when = last_week + H if n < 4 else NOW - H
        s = maybe_sample(
            store,
            Decided(
                subject_type="case",
                subject_id=f"qa{n}",
                policy_id="HA",
                decision="remove",
                decided_by="U1",
                decided_at=when,
                vendor_team="bpo-a",
            ),
            rate=1.0,
            now=when,
        )
        assert s is not None
        agree = n < 4 or n == 4
        record_review(store, s.id, reviewer_id="R1", agree=agree, reason=None if agree else "no")

    report = compute_kpis(store, now=NOW, since=last_week - timedelta(days=7))
    assert report.cases_opened == 3
    assert report.turnaround.n == 3  # c1, c2 and last week's p0
    # c1: 60 min (proposal 4h before now, opened 5h before), c2: 120 min, p0: 60 min.
    assert report.turnaround.median_minutes == pytest.approx(60.0)
    sla = {r.priority: r for r in report.sla}
    assert (sla["P0"].met, sla["P0"].breached, sla["P0"].compliance) == (1, 1, 0.5)
    assert (sla["P1"].met, sla["P1"].breached, sla["P1"].pending) == (0, 1, 1)
    assert (sla["P2"].met, sla["P2"].breached) == (1, 0)
    assert report.volume_by_policy == {"HA": 7, "SP": 2}
    assert (report.appeals.filed, report.appeals.decided, report.appeals.overturned) == (3, 1, 1)
    assert report.appeals.overturn_rate == 1.0
    assert report.appeals_by_policy["SP"].decided == 0
    trends = {t.policy_id: t for t in report.trends}
    assert (trends["HA"].volume_last_week, trends["HA"].volume_this_week) == (1, 6)
    assert trends["HA"].qa_last_week == 1.0 and trends["HA"].qa_this_week == 0.25
    assert any("HA: volume rising" in g for g in report.gaps)
    assert any("HA: QA agreement falling (100% → 25%)" in g for g in report.gaps)
    assert not any(g.startswith("SP") for g in report.gaps)
    assert [w.week_start.day for w in report.weeks] == [2, 9, 16]
    assert report.weeks[-1].cases_opened == 3

    top = headline(store, NOW)
    assert top.volume_today == 3
    assert top.decided_today == 2
    assert top.median_turnaround_minutes == pytest.approx(90.0)
    assert top.sla_breaches == 1  # e4: open, unacknowledged, past due
    assert "3 cases opened" in top.summary()


def test_since_after_now_refused(store: Store) -> None:
    with pytest.raises(InputError, match="not before now"):
        compute_kpis(store, now=NOW, since=NOW + H)


def test_empty_store_gives_empty_figures(store: Store) -> None:
    report = compute_kpis(store, now=NOW)
    assert report.turnaround.median_minutes is None
    assert report.gaps == []
    assert headline(store, NOW).sla_breaches == 0
