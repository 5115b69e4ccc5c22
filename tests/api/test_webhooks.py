"""Webhooks out: events written with what they report, delivered signed to a loopback receiver
that verifies them, retried with backoff, in order per case, dead-lettered after N failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from knowledge.catalogue import Catalogue
from tests.tools.fanout_child import seed_approved_proposal
from tools import audit, escalations, outbox, proposals
from tools.fanout import execute
from tools.gateway import LocalPlatform
from tools.outbox import OutboxRow
from tools.store import Store
from tools.webhook_receiver import Receiver
from warden.integrations import EventType, WebhookSubscriber

SECRET = "i17-FAKE-webhook-secret-a6d2e0"


def subscriber(url: str, *events: EventType, name: str = "platform") -> WebhookSubscriber:
    return WebhookSubscriber(
        name=name, url=url, secret=SECRET, events=frozenset(events or tuple(EventType))
    )


def outbox_types(store: Store) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(OutboxRow.event_type).order_by(OutboxRow.seq)))


def test_events_are_written_in_the_transaction_of_what_they_report(
    store: Store, catalogue: Catalogue
) -> None:
    approved = seed_approved_proposal(store, catalogue, n=4, section_id="SP-2.1")
    assert outbox_types(store) == ["proposal.approved"]
    execute(store, LocalPlatform(store.engine), approved.id, catalogue=catalogue)
    assert outbox_types(store) == ["proposal.approved"] + ["action.applied"] * 4
    pending = seed_approved_proposal(store, catalogue, n=2, section_id="SP-2.1")
    other = proposals.create_proposal(
        store,
        catalogue,
        policy_id="SP",
        section_ids=["SP-2.1"],
        action=pending.action,
        targets=None,
        requester_id="U_REQ",
        cluster_id=pending.cluster_id,
    ).proposal
    proposals.reject(store, other.id, "U_APPROVER_1", approvers={"U_APPROVER_1"}, reason="no")
    late = proposals.create_proposal(
        store,
        catalogue,
        policy_id="SP",
        section_ids=["SP-2.1"],
        action=pending.action,
        targets=None,
        requester_id="U_REQ",
        cluster_id=pending.cluster_id,
        ttl=timedelta(seconds=1),
    ).proposal
    proposals.expire_due(store, datetime.now(UTC) + timedelta(minutes=1))
    esc = escalations.open_escalation(
        store,
        catalogue,
        case_id=None,
        policy_id="SP",
        section_ids=["SP-2.1"],
        summary="burst of promo links",
        opened_by="U_SPEC",
    )
    escalations.resolve(store, esc.id, by="U_SPEC", resolution="removed by hand")
    assert outbox_types(store)[5:] == [
        "proposal.approved",
        "proposal.rejected",
        "proposal.expired",
        "escalation.opened",
        "escalation.resolved",
    ]
    with store.session() as s:
        bodies = [json.loads(b) for b in s.scalars(select(OutboxRow.body).order_by(OutboxRow.seq))]
    expired = bodies[7]
    assert expired["data"]["proposal_id"] == late.id and expired["id"].startswith("evt_")
    applied = bodies[1]["data"]
    assert applied["details"]["action"] == "remove" and applied["proposal_id"] == approved.id
    # A rolled-back transaction leaves neither its audit row nor its event.
    before = len(outbox_types(store))
    with pytest.raises(RuntimeError), store.session() as s:
        audit.record(store, session=s, actor="x", verb="proposal.expired", subject="proposal:p")
        raise RuntimeError("crash before commit")
    assert len(outbox_types(store)) == before
    assert audit.verify(store).ok


def test_delivered_signed_once_each_and_verified_by_the_receiver(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    store = sqlite_store
    approved = seed_approved_proposal(store, catalogue, n=6, section_id="SP-2.1")
    execute(store, LocalPlatform(store.engine), approved.id, catalogue=catalogue)
    with Receiver(SECRET) as good, Receiver("another-secret") as wrong, httpx.Client() as client:
        subs = [
            subscriber(good.url),
            subscriber(wrong.url, EventType.PROPOSAL_APPROVED, name="misconfigured"),
            subscriber(good.url, EventType.ESCALATION_OPENED, name="escalations-only"),
        ]
        report = outbox.deliver_once(store, subs, client, max_attempts=2)
        again = outbox.deliver_once(store, subs, client, max_attempts=2)
        assert [e["type"] for e in good.events] == ["proposal.approved"] + ["action.applied"] * 6
        assert len({e["id"] for e in good.events}) == 7
        assert report.delivered == 7 and again.delivered == 0
        # The receiver with the wrong secret refused the signature: retried, then dead.
        assert wrong.refused_signatures == 1
        outbox.deliver_once(store, subs, client, max_attempts=2, now=lambda: later(hours=1))
        assert wrong.refused_signatures == 2
    state = outbox.status(store, subs)
    by_name = {s.name: s for s in state.subscribers}
    assert by_name["platform"].delivered == 7 and by_name["platform"].pending == 0
    assert by_name["misconfigured"].dead == 1
    assert by_name["escalations-only"].pending == 0
    assert [d.subscriber for d in state.dead_letters] == ["misconfigured"]
    assert state.dead_letters[0].last_error == "HTTP 401"


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def test_retries_with_backoff_and_keeps_order_per_case(sqlite_store: Store) -> None:
    store = sqlite_store
    with store.session() as s:
        for n in range(3):
            outbox.enqueue(s, EventType.DECISION_RECORDED, {"n": n}, "C-1")
        outbox.enqueue(s, EventType.DECISION_RECORDED, {"n": 9}, "C-2")
    failures = {"left": 2}

    def flaky(event: dict[str, Any]) -> bool:
        if event["case_id"] == "C-1" and event["data"]["n"] == 0 and failures["left"]:
            failures["left"] -= 1
            return True
        return False

    with Receiver(SECRET, fail=flaky) as hooks, httpx.Client() as client:
        subs = [subscriber(hooks.url)]
        first = outbox.deliver_once(store, subs, client)
        # C-1's first event failed: its later events wait; C-2 is not held up.
        assert [(e["case_id"], e["data"]["n"]) for e in hooks.events] == [("C-2", 9)]
        assert first.failed == 1
        outbox.deliver_once(store, subs, client)  # before the backoff: nothing is re-sent
        assert len(hooks.failed) == 1
        outbox.deliver_once(store, subs, client, now=lambda: later(minutes=1))
        assert len(hooks.failed) == 2
        outbox.deliver_once(store, subs, client, now=lambda: later(minutes=5))
    assert [(e["case_id"], e["data"]["n"]) for e in hooks.events] == [
        ("C-2", 9),
        ("C-1", 0),
        ("C-1", 1),
        ("C-1", 2),
    ]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 4


def test_backoff_grows_and_is_capped() -> None:
    delays = [outbox.backoff(n).total_seconds() for n in range(1, 15)]
    assert delays[0] < 3 and delays[3] > 12
    assert max(delays) <= 600 * 1.2


def test_webhooks_status_command(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from warden.cli import _register, app
    from warden.settings import get_settings

    url = str(sqlite_store.engine.url)
    with sqlite_store.session() as s:
        outbox.enqueue(s, EventType.ACTION_APPLIED, {"n": 1}, "C-1")
    hooks = [
        {
            "name": "ledger",
            "url": "http://127.0.0.1:9/x",
            "secret": SECRET,
            "events": ["action.applied"],
        }
    ]
    monkeypatch.setenv("WARDEN_DATABASE_URL", url)
    monkeypatch.setenv("WARDEN_WEBHOOKS", json.dumps(hooks))
    monkeypatch.setenv("WARDEN_WEBHOOK_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    try:
        if not any(g.name == "webhooks" for g in app.registered_groups):
            _register()
        runner = CliRunner()
        deliver = runner.invoke(app, ["webhooks", "deliver", "--once"])
        assert deliver.exit_code == 0, deliver.output
        assert "dead 1" in deliver.output
        shown = runner.invoke(app, ["webhooks", "status"])
        assert shown.exit_code == 0, shown.output
        assert "ledger" in shown.output and "dead letters" in shown.output
        assert SECRET not in shown.output
    finally:
        get_settings.cache_clear()


def test_a_body_cut_short_by_a_dying_sender_is_not_counted_as_a_bad_signature() -> None:
    import socket

    with Receiver(SECRET) as hooks:
        host, port = hooks.server.server_address[:2]
        with socket.create_connection((str(host), int(port)), timeout=5) as conn:
            conn.sendall(
                b"POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Warden-Signature: v1=00\r\nX-Warden-Timestamp: 1\r\n"
                b"Content-Length: 100\r\n\r\n" + b'{"id": "ev'
            )
            conn.shutdown(socket.SHUT_WR)
            answer = conn.recv(64)
        assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
        assert hooks.truncated == 1 and hooks.refused_signatures == 0 and not hooks.events
