"""EU DSA transparency figures (Art. 15 and 24) for a period, from the statements of reasons.

Every count is over statements issued in [since, until), classified by the same mapping that
files them with the Transparency Database (`tools.dsa.to_dsa`), so the report and the database
can never disagree. Time to action is measured from the case's opening (the notice or the
flag) to the statement, for statements that came from a case. Appeals are counted by filing
date, suspensions are account-suspension statements issued in the period.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from pydantic import BaseModel
from sqlalchemy import func, select

from tools import dsa
from tools.models import StatementOfReasons
from tools.ops_tables import AppealRow
from tools.store import Store, utc
from tools.tables import AccountRow, CaseRow, StatementRow

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue


class Count(BaseModel):
    key: str
    subkey: str = ""
    count: int


class TransparencyReport(BaseModel):
    since: datetime
    until: datetime
    statements: int
    by_category_decision: list[Count]
    by_source: list[Count]
    by_automation: list[Count]
    time_to_action_n: int
    median_hours_to_action: float | None
    notices_time_to_action_n: int
    notices_median_hours_to_action: float | None
    appeals_by_outcome: list[Count]
    suspensions: int
    accounts_suspended_now: int


def decision_type(data: dict[str, object]) -> str:
    """The decision a submission reports (account decisions first: they are the wider)."""
    for field in dsa.DECISIONS[::-1]:
        value = data.get(field)
        if isinstance(value, list) and value:
            return str(value[0])
        if isinstance(value, str):
            return value
    return "(none)"


def _counts(counter: Counter[tuple[str, str]]) -> list[Count]:
    return [Count(key=k, subkey=s, count=n) for (k, s), n in sorted(counter.items())]


def _median_hours(hours: list[float]) -> float | None:
    return statistics.median(hours) if hours else None


def compute(
    store: Store, catalogue: Catalogue, *, since: datetime, until: datetime
) -> TransparencyReport:
    since, until = utc(since), utc(until)
    categories: Counter[tuple[str, str]] = Counter()
    sources: Counter[tuple[str, str]] = Counter()
    automation: Counter[tuple[str, str]] = Counter()
    to_action: list[float] = []
    notices: list[float] = []
    suspensions = 0
    with store.session() as s:
        statements = [
            StatementOfReasons.model_validate(data)
            for data in s.scalars(
                select(StatementRow.data).where(
                    StatementRow.issued_at >= since, StatementRow.issued_at < until
                )
            )
        ]
        case_ids = {sor.case_id for sor in statements if sor.case_id}
        opened = {
            cid: utc(at)
            for cid, at in s.execute(
                select(CaseRow.id, CaseRow.opened_at).where(CaseRow.id.in_(case_ids))
            )
        }
        appeals = Counter(
            (outcome, "")
            for outcome in s.scalars(
                select(AppealRow.outcome).where(
                    AppealRow.filed_at >= since, AppealRow.filed_at < until
                )
            )
        )
        suspended_now = s.scalar(
            select(func.count()).select_from(AccountRow).where(AccountRow.status == "suspended")
        )
    mapped = 0
    for sor in statements:
        if sor.section_id is None:
            continue  # issued before statements recorded their section: not classifiable
        data = dsa.to_dsa(sor, catalogue)
        mapped += 1
        kind = decision_type(data)
        categories[(str(data["category"]), kind)] += 1
        sources[(str(data["source_type"]), "")] += 1
        automation[
            (f"detection {data['automated_detection']}", str(data["automated_decision"]))
        ] += 1
        if kind == "DECISION_ACCOUNT_SUSPENDED":
            suspensions += 1
        if sor.case_id in opened:
            hours = (utc(sor.issued_at) - opened[sor.case_id]).total_seconds() / 3600
            to_action.append(hours)
            if data["source_type"] in ("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER"):
                notices.append(hours)
    return TransparencyReport(
        since=since,
        until=until,
        statements=mapped,
        by_category_decision=_counts(categories),
        by_source=_counts(sources),
        by_automation=_counts(automation),
        time_to_action_n=len(to_action),
        median_hours_to_action=_median_hours(to_action),
        notices_time_to_action_n=len(notices),
        notices_median_hours_to_action=_median_hours(notices),
        appeals_by_outcome=_counts(appeals),
        suspensions=suspensions,
        accounts_suspended_now=int(suspended_now or 0),
    )


def write_csv(report: TransparencyReport, out: TextIO) -> int:
    """One row per figure: section, key, subkey, value; return the rows written."""
    writer = csv.writer(out)
    writer.writerow(["section", "key", "subkey", "value"])
    rows: list[tuple[str, str, str, object]] = [
        ("period", "since", "", f"{report.since:%Y-%m-%d %H:%M}"),
        ("period", "until", "", f"{report.until:%Y-%m-%d %H:%M}"),
        ("statements", "total", "", report.statements),
    ]
    for section, counts in (
        ("actions by category and decision", report.by_category_decision),
        ("actions by source", report.by_source),
        ("actions by automation", report.by_automation),
        ("appeals by outcome", report.appeals_by_outcome),
    ):
        rows.extend((section, c.key, c.subkey, c.count) for c in counts)

    def hours(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    rows += [
        ("time to action", "median hours, all cases", "", hours(report.median_hours_to_action)),
        ("time to action", "cases measured", "", report.time_to_action_n),
        (
            "time to action",
            "median hours, notices (Art. 16 and trusted flaggers)",
            "",
            hours(report.notices_median_hours_to_action),
        ),
        ("time to action", "notices measured", "", report.notices_time_to_action_n),
        ("suspensions", "account suspensions issued", "", report.suspensions),
        ("suspensions", "accounts suspended now", "", report.accounts_suspended_now),
    ]
    writer.writerows(rows)
    return len(rows)
