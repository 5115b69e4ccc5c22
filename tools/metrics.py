"""Gauges read from the store at scrape time: approvals, escalations by SLA state, fanout backlog,
webhook outbox backlog.

They are read from the database, not counted in memory, so every replica reports the same
numbers and a restart loses nothing. Labels are closed vocabularies (priority, SLA state,
ledger status), never ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select

from tools.fanout_tables import LedgerRow
from tools.models import EscalationStatus, ProposalStatus
from tools.outbox import DeliveryRow, OutboxRow
from tools.store import Store, utc, utcnow
from tools.tables import EscalationRow, ProposalRow

log = logging.getLogger(__name__)

EXPIRING_WITHIN = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1)}


class StoreCollector:
    """A prometheus_client collector over one store."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: registering must not touch the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("warden_store_up", "1 when the store answered this scrape")
        try:
            metrics = list(self._read())
        except Exception:  # a scrape must answer even when the database does not
            log.exception("reading store metrics failed")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        now = self.clock()
        with self.store.session() as s:
            pending = [
                utc(expires)
                for expires in s.scalars(
                    select(ProposalRow.expires_at).where(
                        ProposalRow.status == ProposalStatus.PENDING.value
                    )
                )
            ]
            escalations = s.execute(
                select(EscalationRow.priority, EscalationRow.sla_due_at).where(
                    EscalationRow.status.in_(
                        [EscalationStatus.OPEN.value, EscalationStatus.ACKNOWLEDGED.value]
                    )
                )
            ).all()
            ledger = s.execute(
                select(LedgerRow.status, func.count()).group_by(LedgerRow.status)
            ).all()
            waiting = s.scalars(
                select(func.min(ProposalRow.decided_at)).where(
                    ProposalRow.status.in_(
                        [ProposalStatus.APPROVED.value, ProposalStatus.EXECUTING.value]
                    )
                )
            ).one()
            outbox_events = int(s.scalar(select(func.count()).select_from(OutboxRow)) or 0)
            deliveries = s.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            ).all()

        live = [e for e in pending if e > now]
        approvals = GaugeMetricFamily(
            "warden_approvals_pending", "Proposals waiting for a decision (not yet expired)"
        )
        approvals.add_metric([], len(live))
        yield approvals
        expiring = GaugeMetricFamily(
            "warden_approvals_expiring",
            "Pending proposals that expire within the window",
            labels=["within"],
        )
        for label, window in EXPIRING_WITHIN.items():
            expiring.add_metric([label], sum(1 for e in live if e <= now + window))
        yield expiring

        counts: dict[tuple[str, str], int] = {}
        for priority, due in escalations:
            state = "breached" if utc(due) < now else "within"
            counts[(str(priority), state)] = counts.get((str(priority), state), 0) + 1
        open_escalations = GaugeMetricFamily(
            "warden_escalations_open",
            "Open or acknowledged escalations, by priority and SLA state",
            labels=["priority", "sla_state"],
        )
        for (priority, state), n in sorted(counts.items()):
            open_escalations.add_metric([priority, state], n)
        yield open_escalations

        actions = GaugeMetricFamily(
            "warden_fanout_ledger_actions",
            "Fanout ledger actions in the store, by status (pending, applied, failed)",
            labels=["status"],
        )
        for status, n in sorted((str(st), int(n)) for st, n in ledger):
            actions.add_metric([status], n)
        yield actions
        lag = GaugeMetricFamily(
            "warden_fanout_lag_seconds",
            "Age of the oldest approved proposal whose fanout has not finished (0 when none)",
        )
        lag.add_metric([], max(0.0, (now - utc(waiting)).total_seconds()) if waiting else 0.0)
        yield lag
        events = GaugeMetricFamily(
            "warden_webhook_outbox_events", "Webhook events written to the outbox (all time)"
        )
        events.add_metric([], outbox_events)
        yield events
        by_status = GaugeMetricFamily(
            "warden_webhook_deliveries",
            "Webhook deliveries by status (retry, delivered, dead: dead-lettered after the "
            "last attempt); events no subscriber has tried yet are outbox events minus these",
            labels=["status"],
        )
        for status, n in sorted((str(st), int(n)) for st, n in deliveries):
            by_status.add_metric([status], n)
        yield by_status
