"""The enforcement gateways: the local platform's dedupe, and the HTTP gateway under faults."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from knowledge.vocabulary import ActionType
from tests.fakes.enforcement_api import (
    DUPLICATE_DELIVERY,
    FAULTS,
    RATE_LIMITED,
    EnforcementApiStandIn,
    FaultPlan,
)
from tests.tools.fanout_child import show
from tools.db import Base, make_engine
from tools.fanout_tables import FANOUT_TABLES
from tools.gateway import (
    GatewayItem,
    GatewayRejected,
    GatewayUnavailable,
    HttpGateway,
    LocalPlatform,
)
from tools.models import PlannedAction


def _action(i: int, action: ActionType = ActionType.REMOVE) -> PlannedAction:
    target_type = "account" if action in {ActionType.STRIKE, ActionType.SUSPEND} else "content"
    return PlannedAction(
        target_type=target_type, target_id=f"t-{i}", action=action, section_id="HA-2.1"
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    Base.metadata.create_all(engine, tables=list(FANOUT_TABLES))
    yield engine
    engine.dispose()


def test_local_platform_applies_a_key_once_and_replays_the_first_receipt(engine: Engine) -> None:
    platform = LocalPlatform(engine)
    first = platform.apply(_action(1), idempotency_key="p1:a", proposal_id="p1")
    again = platform.apply(_action(1), idempotency_key="p1:a", proposal_id="p1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.receipt_id == first.receipt_id
    [receipt] = platform.receipts("p1")
    assert receipt.deliveries == 2
    state = platform.target("content", "t-1")
    assert state is not None and state.removals == 1


def test_local_platform_batch_mixes_new_and_replayed_keys(engine: Engine) -> None:
    platform = LocalPlatform(engine)
    items = [GatewayItem(action=_action(i), idempotency_key=f"p1:{i}") for i in range(5)]
    platform.apply_batch(items[:2], proposal_id="p1")
    # Two different actions on one target in one batch land as one upsert row.
    label = GatewayItem(action=_action(0, ActionType.LABEL), idempotency_key="p1:label-0")
    outcomes = platform.apply_batch([*items, label], proposal_id="p1")
    assert [o.receipt.replayed for o in outcomes if o.receipt] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert len(platform.receipts("p1")) == 6
    state = platform.target("content", "t-0")
    assert state is not None and (state.removals, state.labels) == (1, 1)


def _gateway(
    api: EnforcementApiStandIn, sleeps: list[float], token: str = "test-token"
) -> HttpGateway:
    client = httpx.Client(
        base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=0.25
    )
    return HttpGateway(client, max_attempts=4, backoff_s=0.01, sleep=sleeps.append)


@pytest.mark.parametrize("fault", FAULTS)
def test_http_gateway_single_apply_survives_each_fault(fault: str) -> None:
    with EnforcementApiStandIn(faults=FaultPlan(script=[fault])) as api:
        sleeps: list[float] = []
        gateway = _gateway(api, sleeps)
        receipt = gateway.apply(_action(1), idempotency_key="p1:k1", proposal_id="p1")
        gateway.close()
    assert receipt.idempotency_key == "p1:k1"
    assert api.injected[fault] == 1
    assert set(api.applied) == {"p1:k1"}
    assert api.duplicated == 0
    expected_attempts = 1 if fault == DUPLICATE_DELIVERY else 2
    assert gateway.attempts == expected_attempts
    print(
        f"\n[gateway] fault={fault} attempts={gateway.attempts} "
        f"deliveries={api.deliveries['p1:k1']} applied=1 duplicated={api.duplicated}"
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_http_gateway_batch_survives_each_fault(fault: str) -> None:
    items = [GatewayItem(action=_action(i), idempotency_key=f"p1:{i}") for i in range(10)]
    with EnforcementApiStandIn(faults=FaultPlan(script=[fault])) as api:
        gateway = _gateway(api, [])
        outcomes = gateway.apply_batch(items, proposal_id="p1")
        gateway.close()
    assert [o.idempotency_key for o in outcomes] == [i.idempotency_key for i in items]
    assert all(o.receipt is not None for o in outcomes)
    assert set(api.applied) == {i.idempotency_key for i in items}
    assert api.duplicated == 0


def test_http_gateway_honours_retry_after() -> None:
    plan = FaultPlan(script=[RATE_LIMITED], retry_after="3")
    with EnforcementApiStandIn(faults=plan) as api:
        sleeps: list[float] = []
        gateway = _gateway(api, sleeps)
        gateway.apply(_action(1), idempotency_key="k", proposal_id="p1")
    assert sleeps == [3.0]


def test_http_gateway_gives_up_after_bounded_retries_and_a_rerun_applies_once() -> None:
    plan = FaultPlan(script=["503", "500_after_apply", "reset_after_apply", "503"])
    with EnforcementApiStandIn(faults=plan) as api:
        sleeps: list[float] = []
        gateway = _gateway(api, sleeps)
        with pytest.raises(GatewayUnavailable, match="failed 4 times"):
            gateway.apply(_action(1), idempotency_key="k", proposal_id="p1")
        assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # exponential, bounded
        receipt = gateway.apply(_action(1), idempotency_key="k", proposal_id="p1")
    assert receipt.replayed  # it had landed during the failed attempts
    assert api.applications["k"] == 1 and api.deliveries["k"] == 3


def test_http_gateway_refusals_are_not_retried() -> None:
    with EnforcementApiStandIn() as api:
        gateway = _gateway(api, [], token="wrong")
        with pytest.raises(GatewayRejected, match="HTTP 401"):
            gateway.apply(_action(1), idempotency_key="k", proposal_id="p1")
        assert gateway.attempts == 1
        good = _gateway(api, [])
        missing = PlannedAction(
            target_type="content",
            target_id="missing-9",
            action=ActionType.REMOVE,
            section_id="HA-2.1",
        )
        items = [
            GatewayItem(action=_action(1), idempotency_key="ok"),
            GatewayItem(action=missing, idempotency_key="bad"),
        ]
        ok, bad = good.apply_batch(items, proposal_id="p1")
    assert ok.receipt is not None and bad.receipt is None
    assert bad.error is not None and "unknown target" in bad.error
    assert set(api.applied) == {"ok"}


def test_http_gateway_fault_storm_applies_the_intended_set_exactly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    intended = [GatewayItem(action=_action(i), idempotency_key=f"p1:{i}") for i in range(300)]
    plan = FaultPlan(rate=0.3, seed=11, stall_s=0.3)
    with EnforcementApiStandIn(faults=plan) as api:
        gateway = _gateway(api, [])
        gateway.max_attempts = 8
        for start in range(0, len(intended), 25):
            gateway.apply_batch(intended[start : start + 25], proposal_id="p1")
        for item in intended[:30]:  # single calls too, replays of keys that already landed
            gateway.apply(item.action, idempotency_key=item.idempotency_key, proposal_id="p1")
    lost = {i.idempotency_key for i in intended} - set(api.applied)
    extra = set(api.applied) - {i.idempotency_key for i in intended}
    show(
        capsys,
        f"[gateway storm] tried={len(intended)} requests={api.requests} "
        f"faults={dict(api.injected)} redelivered={api.redelivered} "
        f"lost={len(lost)} extra={len(extra)} duplicated={api.duplicated}",
    )
    assert not lost and not extra and api.duplicated == 0
    assert sum(api.injected.values()) > 0


def test_build_gateway_picks_the_configured_platform(engine: Engine) -> None:
    from tools.gateway import build_gateway
    from warden.errors import ConfigError
    from warden.settings import Settings

    assert isinstance(build_gateway(Settings(), engine), LocalPlatform)
    with EnforcementApiStandIn(token="s3cret") as api:
        settings = Settings(WARDEN_ENFORCEMENT_API_URL=api.url, WARDEN_ENFORCEMENT_API_KEY="s3cret")
        gateway = build_gateway(settings, engine)
        assert isinstance(gateway, HttpGateway)
        receipt = gateway.apply(_action(1), idempotency_key="k", proposal_id="p1")
        gateway.close()
    assert receipt.receipt_id == api.applied["k"]["receipt_id"]
    with pytest.raises(ConfigError, match="WARDEN_ENFORCEMENT_API_KEY"):
        build_gateway(Settings(WARDEN_ENFORCEMENT_API_URL=api.url), engine)
