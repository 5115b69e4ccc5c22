"""The exactly-once fanout in process: happy path, progress, refusals, remote gateway, resume."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType
from tests.fakes.enforcement_api import EnforcementApiStandIn, FaultPlan
from tests.tools.fanout_child import APPROVERS, seed_approved_proposal, show, tally
from tools import audit, proposals, reasons
from tools.fanout import execute, idempotency_key, status
from tools.fanout_tables import APPLIED, FAILED, PENDING, LedgerRow
from tools.gateway import GatewayUnavailable, HttpGateway, LocalPlatform
from tools.models import DecisionAutomation, FanoutProgress, PlannedAction, ProposalStatus
from tools.store import Store
from tools.tables import AccountRow, ProposalRow
from warden.errors import ApprovalError

pytestmark = pytest.mark.timeout(180)


def test_happy_path_applies_every_action_once_and_reports_progress(
    store: Store, catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    proposal = seed_approved_proposal(store, catalogue, n=230)
    seen: list[FanoutProgress] = []
    result = execute(
        store,
        LocalPlatform(store.engine),
        proposal.id,
        catalogue=catalogue,
        progress=seen.append,
        batch_size=50,
    )
    assert (result.status, result.applied, result.failed, result.pending) == (
        ProposalStatus.EXECUTED,
        230,
        0,
        0,
    )
    assert result.batches == 5 and result.applied_by_this_run == 230
    assert [p.applied for p in seen] == [50, 100, 150, 200, 230, 230]
    assert seen[-1].done and not any(p.done for p in seen[:-1])
    counts = tally(store, proposal)
    show(capsys, counts.line(f"fanout happy {store.engine.dialect.name}"))
    assert (counts.lost, counts.duplicated, counts.platform_applied) == (0, 0, 230)
    assert counts.audit_applied_events == counts.statements == 230
    sor = reasons.get_statement(store, idempotency_key(proposal.id, proposal.actions[0]))
    assert sor.automated_detection and sor.automated_decision == DecisionAutomation.PARTIALLY
    assert sor.account_id.startswith("acct-") and sor.content_id == proposal.actions[0].target_id
    assert audit.verify(store).ok


def test_strike_proposal_adds_one_strike_per_account_and_suspends_at_threshold(
    store: Store, catalogue: Catalogue
) -> None:
    proposal = seed_approved_proposal(store, catalogue, n=12, action=ActionType.STRIKE)
    platform = LocalPlatform(store.engine)
    result = execute(store, platform, proposal.id, catalogue=catalogue, batch_size=5)
    assert result.status == ProposalStatus.EXECUTED
    counts = tally(store, proposal)
    assert (counts.strikes, counts.lost, counts.duplicated) == (12, 0, 0)
    # Running again is refused (executed) and adds nothing.
    with pytest.raises(ApprovalError, match="executed"):
        execute(store, platform, proposal.id, catalogue=catalogue)
    assert tally(store, proposal).strikes == 12


def test_suspend_actions_suspend_the_accounts_in_the_store(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    proposal = seed_approved_proposal(
        sqlite_store, catalogue, n=3, action=ActionType.SUSPEND, section_id="HA-2.5"
    )
    execute(sqlite_store, LocalPlatform(sqlite_store.engine), proposal.id, catalogue=catalogue)
    with sqlite_store.session() as s:
        statuses = s.scalars(
            select(AccountRow.status).where(
                AccountRow.id.in_([a.target_id for a in proposal.actions])
            )
        ).all()
    assert statuses == ["suspended"] * 3


def test_pending_rejected_and_expired_proposals_are_refused(
    store: Store, catalogue: Catalogue
) -> None:
    platform = LocalPlatform(store.engine)
    created = proposals.create_proposal(
        store,
        catalogue,
        policy_id="HA",
        section_ids=["HA-2.3"],
        action=ActionType.REMOVE,
        targets=None,
        requester_id="U_REQUESTER",
        cluster_id=_cluster_of(store, seed_approved_proposal(store, catalogue, n=3).id),
    )
    pending = created.proposal
    with pytest.raises(ApprovalError, match="pending"):
        execute(store, platform, pending.id, catalogue=catalogue)
    proposals.reject(store, pending.id, "U_APPROVER_1", approvers=APPROVERS, reason="not hate")
    with pytest.raises(ApprovalError, match="rejected"):
        execute(store, platform, pending.id, catalogue=catalogue)
    with store.session() as s:
        s.execute(
            update(ProposalRow)
            .where(ProposalRow.id == pending.id)
            .values(status=ProposalStatus.EXPIRED.value)
        )
    with pytest.raises(ApprovalError, match="expired"):
        execute(store, platform, pending.id, catalogue=catalogue)
    assert platform.receipts(pending.id) == []


def _cluster_of(store: Store, proposal_id: str) -> str:
    cluster = store.get_proposal(proposal_id).cluster_id
    assert cluster is not None
    return cluster


@pytest.mark.parametrize("tamper", ["actions", "hash"])
def test_a_proposal_changed_after_approval_is_refused(
    store: Store, catalogue: Catalogue, tamper: str
) -> None:
    proposal = seed_approved_proposal(store, catalogue, n=5)
    with store.session() as s:
        row = s.get(ProposalRow, proposal.id)
        assert row is not None
        if tamper == "actions":
            widened = [*row.actions, {**row.actions[0], "target_id": "pin-not-in-cluster"}]
            row.actions = widened
        else:
            row.action_hash = "0" * 64
    platform = LocalPlatform(store.engine)
    with pytest.raises(ApprovalError, match="hash"):
        execute(store, platform, proposal.id, catalogue=catalogue)
    assert platform.receipts(proposal.id) == []


def test_a_change_after_a_partial_run_is_refused_on_resume(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    store = sqlite_store
    proposal = seed_approved_proposal(store, catalogue, n=20)
    platform = LocalPlatform(store.engine)

    def stop_after_first_batch(progress: FanoutProgress) -> None:
        raise KeyboardInterrupt  # an operator's Ctrl-C between two batches

    with pytest.raises(KeyboardInterrupt):
        execute(
            store,
            platform,
            proposal.id,
            catalogue=catalogue,
            batch_size=5,
            progress=stop_after_first_batch,
        )
    assert len(platform.receipts(proposal.id)) == 5
    with store.session() as s:
        row = s.get(ProposalRow, proposal.id)
        assert row is not None
        row.actions = row.actions[:-1]
    with pytest.raises(ApprovalError):
        execute(store, platform, proposal.id, catalogue=catalogue)
    assert len(platform.receipts(proposal.id)) == 5


def _http_gateway(
    api: EnforcementApiStandIn, attempts: int = 10, *, batch_endpoint: bool = True
) -> HttpGateway:
    client = httpx.Client(
        base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}, timeout=0.3
    )
    return HttpGateway(
        client,
        max_attempts=attempts,
        backoff_s=0.001,
        sleep=lambda _s: None,
        batch_endpoint=batch_endpoint,
    )


def test_remote_gateway_under_faults_lands_the_intended_set_exactly(
    store: Store, catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    proposal = seed_approved_proposal(store, catalogue, n=150)
    plan = FaultPlan(rate=0.35, seed=5, stall_s=0.4)
    with EnforcementApiStandIn(faults=plan) as api:
        result = execute(store, _http_gateway(api), proposal.id, catalogue=catalogue, batch_size=10)
    counts = tally(
        store, proposal, remote_applied=api.applications, remote_deliveries=api.deliveries
    )
    show(
        capsys,
        f"{counts.line('fanout http ' + store.engine.dialect.name)} "
        f"faults={sum(api.injected.values())}",
    )
    assert result.status == ProposalStatus.EXECUTED
    assert (counts.lost, counts.duplicated, counts.platform_applied) == (0, 0, 150)
    assert set(api.applied) == {idempotency_key(proposal.id, a) for a in proposal.actions}


def test_one_request_per_action_with_its_own_key_header_under_faults(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    proposal = seed_approved_proposal(sqlite_store, catalogue, n=40)
    plan = FaultPlan(rate=0.3, seed=9, stall_s=0.4)
    with EnforcementApiStandIn(faults=plan) as api:
        gateway = _http_gateway(api, batch_endpoint=False)
        result = execute(sqlite_store, gateway, proposal.id, catalogue=catalogue, batch_size=10)
    counts = tally(sqlite_store, proposal, remote_applied=api.applications)
    assert result.status == ProposalStatus.EXECUTED
    assert (counts.lost, counts.duplicated, counts.platform_applied) == (0, 0, 40)
    assert gateway.attempts > 40  # one request per action, plus the retries the faults caused


def test_unavailable_platform_pauses_and_a_rerun_resumes_without_duplicates(
    store: Store, catalogue: Catalogue
) -> None:
    proposal = seed_approved_proposal(store, catalogue, n=30)
    # Batch 1 lands; batch 2 lands and then every reply fails until the gateway gives up.
    plan = FaultPlan(script=[None, "500_after_apply", "503", "503"])
    with EnforcementApiStandIn(faults=plan) as api:
        with pytest.raises(GatewayUnavailable, match="resume"):
            execute(
                store,
                _http_gateway(api, attempts=3),
                proposal.id,
                catalogue=catalogue,
                batch_size=10,
            )
        paused = status(store, proposal.id)
        assert (paused.applied, paused.pending) == (10, 20)
        assert paused.proposal_status == ProposalStatus.EXECUTING
        assert paused.errors and "failed 3 times" in paused.errors[0]
        result = execute(store, _http_gateway(api), proposal.id, catalogue=catalogue, batch_size=10)
    assert result.status == ProposalStatus.EXECUTED
    assert result.replayed == 10  # batch 2 had landed before the failures: first receipts back
    counts = tally(store, proposal, remote_applied=api.applications)
    assert (counts.lost, counts.duplicated) == (0, 0)


@pytest.mark.parametrize("batch_endpoint", [True, False])
def test_actions_the_platform_refuses_fail_the_proposal_and_are_reported(
    sqlite_store: Store, catalogue: Catalogue, batch_endpoint: bool
) -> None:
    store = sqlite_store
    proposal = seed_approved_proposal(store, catalogue, n=6)
    # The platform no longer knows two of the targets (deleted by their authors meanwhile).
    missing = {proposal.actions[1].target_id, proposal.actions[4].target_id}

    class Forgetful(EnforcementApiStandIn):
        def deliver(self, key, item):  # type: ignore[no-untyped-def]
            if item["target_id"] in missing:
                return 404, {"idempotency_key": key, "error": "unknown target"}
            return super().deliver(key, item)

    with Forgetful() as api:
        gateway = _http_gateway(api, batch_endpoint=batch_endpoint)
        result = execute(store, gateway, proposal.id, catalogue=catalogue)
    assert (result.status, result.applied, result.failed) == (ProposalStatus.FAILED, 4, 2)
    with store.session() as s:
        failed = s.scalars(
            select(LedgerRow.target_id).where(
                LedgerRow.proposal_id == proposal.id, LedgerRow.status == FAILED
            )
        ).all()
    assert set(failed) == missing
    assert {e.subject for e in audit.events(store, verb="action.failed")} == {
        idempotency_key(proposal.id, a) for a in proposal.actions if a.target_id in missing
    }
    assert status(store, proposal.id).errors


def test_status_of_a_proposal_that_never_ran(sqlite_store: Store, catalogue: Catalogue) -> None:
    proposal = seed_approved_proposal(sqlite_store, catalogue, n=4)
    fresh = status(sqlite_store, proposal.id)
    assert (fresh.applied, fresh.pending, fresh.started_at) == (0, 4, None)
    assert APPLIED != PENDING


def test_idempotency_keys_are_stable_header_safe_and_distinct() -> None:
    plain = PlannedAction(
        target_type="content", target_id="pin-1", action=ActionType.REMOVE, section_id="HA-2.3"
    )
    assert idempotency_key("prop_1", plain) == "prop_1:content:pin-1:remove"
    odd = [
        plain.model_copy(update={"target_id": "pin-ü-1"}),
        plain.model_copy(update={"target_id": "pin-ü-2"}),
        plain.model_copy(update={"target_id": "x" * 300}),
        plain.model_copy(update={"target_id": "pin\r\nX-Injected: 1"}),
    ]
    keys = [idempotency_key("prop_1", a) for a in odd]
    assert keys == [idempotency_key("prop_1", a) for a in odd]  # stable across runs
    assert len(set(keys)) == len(keys)
    assert all(k.isascii() and k.isprintable() and len(k) <= 255 for k in keys)
