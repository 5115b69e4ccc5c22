"""2. The HTTP enforcement gateway against a hostile enforcement API (scripted replies, loopback).

Pass: only HTTP 200/201 carrying a receipt that names the item's own key, target and action
counts as applied. Redirects, 202/204, receipts for another target, action or key, results that
hold a receipt and an error, oversized replies and a server that trickles its reply past the
request deadline leave every ledger row pending (0 counted applied, the run resumable); an error
the API marks retryable keeps that row pending while the rest of the proposal runs, and the next
run applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.hostile_api import HostileApi, Reply, Request, receipt_for
from tests.security.conftest import ENFORCEMENT_KEY, Figures
from tests.tools.fanout_child import seed_approved_proposal
from tools.fanout import execute
from tools.fanout_tables import APPLIED, FAILED, PENDING, LedgerRow
from tools.gateway import HttpGateway
from warden.errors import GatewayError
from warden.settings import Settings

Script = Callable[[Request], Reply]


def _gateway(api: HostileApi, *, batch: bool = True, deadline_s: float = 5.0) -> HttpGateway:
    settings = Settings(
        WARDEN_ENFORCEMENT_API_URL=api.url, WARDEN_ENFORCEMENT_API_KEY=ENFORCEMENT_KEY
    )
    gateway = HttpGateway.from_settings(settings, timeout_s=5.0, deadline_s=deadline_s)
    gateway.batch_endpoint = batch
    gateway.max_attempts, gateway.backoff_s = 2, 0.0
    return gateway


def _ledger(store: Any, proposal_id: str) -> dict[str, int]:
    from sqlalchemy import func, select

    with store.session() as s:
        rows = s.execute(
            select(LedgerRow.status, func.count())
            .where(LedgerRow.proposal_id == proposal_id)
            .group_by(LedgerRow.status)
        ).all()
    counts = {PENDING: 0, APPLIED: 0, FAILED: 0}
    counts.update({status: n for status, n in rows})
    return counts


def _batch(result: Callable[[dict[str, Any]], dict[str, Any]], **reply: Any) -> Script:
    def script(request: Request) -> Reply:
        return Reply(body={"results": [result(i) for i in request.body["items"]]}, **reply)

    return script


def _good(item: dict[str, Any]) -> dict[str, Any]:
    return {"idempotency_key": item["idempotency_key"], "receipt": receipt_for(item)}


def _single(status: int, make: Callable[[Request], Any]) -> Script:
    def script(request: Request) -> Reply:
        item = {**request.body, "idempotency_key": request.headers["idempotency-key"]}
        return Reply(status=status, body=make(Request(request.path, request.headers, item)))

    return script


HOSTILE: dict[str, tuple[Script, bool]] = {
    "302 redirect carrying receipts": (
        _batch(_good, status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"}),
        True,
    ),
    "202 accepted carrying receipts": (_batch(_good, status=202), True),
    "204 no content": (lambda r: Reply(status=204, body=b""), True),
    "receipt for another target": (
        _batch(lambda i: {**_good(i), "receipt": receipt_for(i, target_id="pin-someone-else")}),
        True,
    ),
    "receipt for another action": (
        _batch(lambda i: {**_good(i), "receipt": receipt_for(i, action="label")}),
        True,
    ),
    "receipt under another key": (
        _batch(lambda i: {**_good(i), "receipt": receipt_for(i, idempotency_key="other:key")}),
        True,
    ),
    "a result holding a receipt and an error": (
        _batch(lambda i: {**_good(i), "error": "not really applied"}),
        True,
    ),
    "results for keys that were not sent": (
        _batch(lambda i: {**_good(i), "idempotency_key": i["idempotency_key"] + ":x"}),
        True,
    ),
    "a reply declaring 50 MB": (_batch(_good, declared_length=50_000_000), True),
    "a 3 MB reply": (
        lambda r: Reply(
            body={"results": [_good(i) for i in r.body["items"]], "pad": "x" * 3_000_000}
        ),
        True,
    ),
    "single: 302 carrying a receipt": (_single(302, lambda r: receipt_for(r.body)), False),
    "single: 202 carrying a receipt": (_single(202, lambda r: receipt_for(r.body)), False),
    "single: receipt and error": (
        _single(200, lambda r: {**receipt_for(r.body), "error": "refused"}),
        False,
    ),
    "single: receipt for another target": (
        _single(201, lambda r: receipt_for(r.body, target_id="pin-someone-else")),
        False,
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_only_a_matching_receipt_counts_as_applied(
    sqlite_store: Any, catalogue: Any, figures: Figures, name: str
) -> None:
    script, batch = HOSTILE[name]
    proposal = seed_approved_proposal(sqlite_store, catalogue, n=3)
    with HostileApi(script) as api:
        gateway = _gateway(api, batch=batch)
        try:
            with pytest.raises(GatewayError) as raised:
                execute(sqlite_store, gateway, proposal.id, catalogue=catalogue, batch_size=10)
        finally:
            gateway.close()
    ledger = _ledger(sqlite_store, proposal.id)
    figures.tried += 3
    figures.accepted += ledger[APPLIED]
    figures.rejected += ledger[PENDING]
    figures.lost += ledger[FAILED]  # a final failure would lose the action for good
    assert ledger == {PENDING: 3, APPLIED: 0, FAILED: 0}, (name, ledger)
    assert "nothing" in str(raised.value) or "resume" in str(raised.value)


def test_a_trickling_server_is_cut_off_at_the_request_deadline(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    """One byte every 0.2 s, headers included: a minute per reply; the deadline is 1 s."""
    proposal = seed_approved_proposal(sqlite_store, catalogue, n=3)
    with HostileApi(_batch(_good, trickle_s=0.2)) as api:
        gateway = _gateway(api, deadline_s=1.0)
        try:
            with pytest.raises(GatewayError, match="failed 2 times"):
                execute(sqlite_store, gateway, proposal.id, catalogue=catalogue, batch_size=10)
        finally:
            gateway.close()
        requests = len(api.requests)
    ledger = _ledger(sqlite_store, proposal.id)
    figures.tried += 1
    figures.rejected += int(ledger[PENDING] == 3)
    figures.accepted += ledger[APPLIED]
    figures.note(f"trickling server: {requests} requests cut off, rows stay pending")
    assert ledger[PENDING] == 3 and requests == 2


def _retry_once(first_error: dict[str, Any]) -> tuple[Script, list[int]]:
    """Item 0 is refused the first time it is seen with `first_error`; then it succeeds."""
    seen: list[int] = []

    def result(item: dict[str, Any]) -> dict[str, Any]:
        if item["target_id"].endswith("-0") and not seen:
            seen.append(1)
            return {"idempotency_key": item["idempotency_key"], **first_error}
        return _good(item)

    return _batch(result), seen


def test_an_error_the_api_marks_retryable_keeps_the_row_pending_and_resumable(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    from tools.models import ProposalStatus

    proposal = seed_approved_proposal(sqlite_store, catalogue, n=5)
    script, _ = _retry_once({"error": "target_locked", "retryable": True})
    with HostileApi(script) as api:
        gateway = _gateway(api)
        try:
            with pytest.raises(GatewayError, match="retry 1 action"):
                execute(sqlite_store, gateway, proposal.id, catalogue=catalogue, batch_size=2)
            first = _ledger(sqlite_store, proposal.id)
            result = execute(sqlite_store, gateway, proposal.id, catalogue=catalogue, batch_size=2)
        finally:
            gateway.close()
    figures.tried += 1
    figures.note(
        f"after the retryable error: {first}; after the resumed run: {result.applied} applied"
    )
    # The rest of the proposal ran; the retryable one waited and landed on the next run.
    assert first == {PENDING: 1, APPLIED: 4, FAILED: 0}
    assert result.status == ProposalStatus.EXECUTED and result.applied == 5
    figures.rejected += 1
    figures.lost += 5 - result.applied


def test_a_single_action_api_retryable_4xx_keeps_the_row_pending(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    proposal = seed_approved_proposal(sqlite_store, catalogue, n=3)
    state = {"refused": 0}

    def script(request: Request) -> Reply:
        item = {**request.body, "idempotency_key": request.headers["idempotency-key"]}
        if item["target_id"].endswith("-1") and state["refused"] < 2:
            state["refused"] += 1
            return Reply(status=409, body={"error": "busy", "retryable": True})
        return Reply(status=201, body=receipt_for(item))

    with HostileApi(script) as api:
        gateway = _gateway(api, batch=False)
        try:
            with pytest.raises(GatewayError, match="retry 1 action"):
                execute(sqlite_store, gateway, proposal.id, catalogue=catalogue)
            first = _ledger(sqlite_store, proposal.id)
            result = execute(sqlite_store, gateway, proposal.id, catalogue=catalogue)
        finally:
            gateway.close()
    figures.tried += 1
    assert first == {PENDING: 1, APPLIED: 2, FAILED: 0}
    assert result.applied == 3 and result.failed == 0
    figures.rejected += 1


def test_a_final_refusal_is_still_final(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    """Control: an error without `retryable` fails that one action; the rest are applied."""
    proposal = seed_approved_proposal(sqlite_store, catalogue, n=3)
    script, _ = _retry_once({"error": "unknown_target"})
    with HostileApi(script) as api:
        gateway = _gateway(api)
        try:
            result = execute(sqlite_store, gateway, proposal.id, catalogue=catalogue)
        finally:
            gateway.close()
    figures.tried += 1
    figures.note("control: a non-retryable per-item error fails that action only")
    assert (result.applied, result.failed, result.pending) == (2, 1, 0)
