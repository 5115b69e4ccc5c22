"""Appeals: filed against an enforced decision, decided by someone who took no part in it; an
overturn reverses everything (content restored through the gateway, strike gone, restriction
lifted). SQLite and Postgres (the `store` fixture); the HTTP reversal against the stand-in API."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType
from tests.fakes.enforcement_api import EnforcementApiStandIn
from tests.tools.test_casework import ANA, BEN, CHIDI, load
from tools import appeals, audit, casework
from tools.appeals import AppealError
from tools.cases import ensure_account
from tools.gateway import GatewayItem, HttpGateway, LocalPlatform, reversal_key
from tools.kpis import compute_kpis
from tools.models import PlannedAction
from tools.store import Store, utcnow
from tools.strikes import account_report
from tools.tables import StatementRow, StrikeRow
from warden.errors import NotFoundError


def _decide_removal(store: Store, catalogue: Catalogue, case_id: str = "c-ha") -> str:
    result = casework.decide(
        store,
        catalogue,
        LocalPlatform(store.engine),
        case_id,
        actor=ANA,
        verdict="violating",
        section_id="HA-2.2",
        action=ActionType.REMOVE,
    )
    assert result.case.proposal_id is not None
    return result.case.proposal_id


def _seed_strike(store: Store, account: str) -> None:
    now = utcnow()
    with store.session() as s:
        ensure_account(s, account)
        s.add(
            StrikeRow(
                id=f"seed-{account}",
                account_id=account,
                policy_id="HA",
                section_id="HA-2.2",
                weight=1,
                issued_at=now - timedelta(days=5),
                expires_at=now + timedelta(days=85),
                source_action_key=f"seed:{account}",
                overturned=False,
            )
        )


def test_file_queues_per_pod_with_the_policy_sla(store: Store, catalogue: Catalogue) -> None:
    load(store)
    _decide_removal(store, catalogue)
    appeal = appeals.file_appeal(store, catalogue, "c-ha", reason="it was satire")
    assert (appeal.account_id, appeal.pod, appeal.policy_id) == ("acct-h", "critical-harms", "HA")
    assert appeal.sla_due_at == appeal.filed_at + timedelta(hours=72)
    assert appeal.original_decider == ANA
    assert casework.get_work(store, catalogue, "c-ha").status == "appealed"
    assert [a.id for a in appeals.pending(store, pod="critical-harms")] == [appeal.id]
    assert appeals.pending(store, pod="integrity") == []
    with pytest.raises(AppealError, match="already pending"):
        appeals.file_appeal(store, catalogue, "c-ha", reason="again")
    (event,) = audit.events(store, subject=f"appeal:{appeal.id}")
    assert (event.verb, event.actor) == ("appeal.filed", "account:acct-h")


def test_nothing_enforced_nothing_to_appeal(store: Store, catalogue: Catalogue) -> None:
    load(store)
    casework.decide(store, catalogue, None, "c-gv", actor=ANA, verdict="not_violating",
                    reason="fine")  # fmt: skip
    with pytest.raises(AppealError, match="never enforced"):
        appeals.file_appeal(store, catalogue, "c-gv", reason="r")
    with pytest.raises(AppealError, match="never enforced"):
        appeals.file_appeal(store, catalogue, "c-ha", reason="r")  # not decided at all
    with pytest.raises(NotFoundError):
        appeals.file_appeal(store, catalogue, "prop_nope:content:x:remove", reason="r")
    with pytest.raises(AppealError, match="grounds"):
        appeals.file_appeal(store, catalogue, "c-gv", reason=" ")
    with pytest.raises(NotFoundError):
        appeals.decide_appeal(store, catalogue, None, "ap-nope", actor=BEN,
                              outcome="upheld", reason="r")  # fmt: skip
    assert appeals.pending(store) == []


def test_overturn_reverses_everything_and_only_an_uninvolved_person_decides(
    store: Store, catalogue: Catalogue
) -> None:
    load(store)
    _seed_strike(store, "acct-h")  # 1 + the removal's strike = 2: limited distribution
    platform = LocalPlatform(store.engine)
    proposal_id = _decide_removal(store, catalogue)
    assert account_report(store, catalogue, "acct-h").status == "limited"
    removal_key = f"{proposal_id}:content:ha-1:remove"
    appeal = appeals.file_appeal(store, catalogue, removal_key, reason="counter-speech")
    assert appeal.case_id == "c-ha"
    with pytest.raises(AppealError, match="made or approved"):
        appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=ANA,
                              outcome="overturned", reason="r")  # fmt: skip
    with pytest.raises(AppealError, match="needs a reason"):
        appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=BEN,
                              outcome="overturned", reason="")  # fmt: skip
    outcome = appeals.decide_appeal(
        store, catalogue, platform, appeal.id, actor=BEN, outcome="overturned",
        reason="condemns the comparison",
    )  # fmt: skip
    assert outcome.appeal.outcome == "overturned" and outcome.appeal.decided_by == BEN
    assert outcome.restored == [reversal_key(removal_key)]
    target = platform.target("content", "ha-1")
    assert target is not None and target.removals == 0  # restored
    report = account_report(store, catalogue, "acct-h")
    assert report.status == "active" and report.active_restrictions == []
    assert [s.id for s in report.active_strikes] == ["seed-acct-h"]  # the decision's strike gone
    assert len(outcome.strikes_overturned) == 1 and len(outcome.restrictions_lifted) == 1
    with store.session() as s:
        sor = s.scalars(select(StatementRow).where(StatementRow.id == outcome.statement_id)).one()
        assert sor.action_key == f"appeal:{appeal.id}"
    assert casework.get_work(store, catalogue, "c-ha").status == "closed"
    verbs = [e.verb for e in audit.events(store, subject=f"appeal:{appeal.id}")]
    assert verbs == ["appeal.filed", "appeal.overturned"]
    account_verbs = [e.verb for e in audit.events(store, subject="account:acct-h")]
    assert "strike.overturned" in account_verbs and "restriction.lifted" in account_verbs
    with pytest.raises(AppealError, match="already decided"):
        appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=CHIDI,
                              outcome="upheld", reason="r")  # fmt: skip
    with pytest.raises(AppealError, match="already overturned"):
        appeals.file_appeal(store, catalogue, "c-ha", reason="again")
    # Reversal is idempotent on the platform: the same key again is a replay.
    again = platform.reverse_batch(
        [
            GatewayItem(
                action=PlannedAction(
                    target_type="content",
                    target_id="ha-1",
                    action=ActionType.REMOVE,
                    section_id="HA-2.2",
                ),
                idempotency_key=reversal_key(removal_key),
            )
        ],
        proposal_id=proposal_id,
    )
    assert again[0].receipt is not None and again[0].receipt.replayed
    assert platform.target("content", "ha-1").removals == 0  # type: ignore[union-attr]
    assert audit.verify(store).ok


def test_uphold_changes_nothing_but_the_appeal(store: Store, catalogue: Catalogue) -> None:
    load(store)
    platform = LocalPlatform(store.engine)
    _decide_removal(store, catalogue)
    appeal = appeals.file_appeal(store, catalogue, "c-ha", reason="please")
    with store.session() as s:
        strikes_before = s.scalar(select(func.count()).select_from(StrikeRow))
    outcome = appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=BEN,
                                    outcome="upheld", reason="clear slur")  # fmt: skip
    assert outcome.appeal.outcome == "upheld" and outcome.restored == []
    assert platform.target("content", "ha-1").removals == 1  # type: ignore[union-attr]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(StrikeRow)) == strikes_before
    assert casework.get_work(store, catalogue, "c-ha").status == "closed"


def test_overturn_rates_per_policy_specialist_and_vendor_team(
    store: Store, catalogue: Catalogue
) -> None:
    load(store)
    platform = LocalPlatform(store.engine)
    _decide_removal(store, catalogue, "c-ha")
    _decide_removal(store, catalogue, "c-ha-old")
    one = appeals.file_appeal(store, catalogue, "c-ha", reason="r")
    two = appeals.file_appeal(store, catalogue, "c-ha-old", reason="r")
    appeals.decide_appeal(store, catalogue, platform, one.id, actor=BEN, outcome="overturned",
                          reason="context")  # fmt: skip
    appeals.decide_appeal(store, catalogue, platform, two.id, actor=BEN, outcome="upheld",
                          reason="clear")  # fmt: skip
    report = compute_kpis(store, now=utcnow() + timedelta(minutes=1))
    assert report.appeals_by_policy["HA"].overturn_rate == 0.5
    assert report.appeals_by_specialist[ANA].overturn_rate == 0.5
    assert report.appeals_by_vendor_team["in-house"].decided == 2


def test_http_gateway_reverses_once_per_key() -> None:
    action = PlannedAction(
        target_type="content", target_id="t-1", action=ActionType.REMOVE, section_id="HA-2.1"
    )
    with EnforcementApiStandIn() as api:
        client = httpx.Client(
            base_url=api.url, headers={"Authorization": "Bearer test-token"}, timeout=2
        )
        gateway = HttpGateway(client, max_attempts=2, backoff_s=0.01, sleep=lambda _s: None)
        item = GatewayItem(action=action, idempotency_key=reversal_key("p1:content:t-1:remove"))
        first = gateway.reverse_batch([item], proposal_id="p1")
        second = gateway.reverse_batch([item], proposal_id="p1")
        gateway.close()
    assert first[0].receipt is not None and not first[0].receipt.replayed
    assert second[0].receipt is not None and second[0].receipt.replayed
    assert api.duplicated == 0 and set(api.applied) == {"reverse:p1:content:t-1:remove"}


def test_decisions_and_appeal_outcomes_reach_webhook_subscribers(
    store: Store, catalogue: Catalogue
) -> None:
    from tools.outbox import OutboxRow

    load(store)
    platform = LocalPlatform(store.engine)
    _decide_removal(store, catalogue)
    appeal = appeals.file_appeal(store, catalogue, "c-ha", reason="please")
    appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=BEN,
                          outcome="upheld", reason="clear slur")  # fmt: skip
    with store.session() as s:
        rows = s.execute(select(OutboxRow.event_type, OutboxRow.ordering_key)).all()
    types = [t for t, _key in rows]
    assert types.count("decision.recorded") == 1 and types.count("appeal.decided") == 1
    assert {key for t, key in rows if t in ("decision.recorded", "appeal.decided")} == {"c-ha"}


def test_an_appeal_against_a_bulk_proposal_reverses_only_the_appealing_account(
    store: Store, catalogue: Catalogue
) -> None:
    from tests.tools.fanout_child import seed_approved_proposal
    from tools.fanout import execute, idempotency_key

    proposal = seed_approved_proposal(store, catalogue, n=6, authors=2)
    platform = LocalPlatform(store.engine)
    execute(store, platform, proposal.id, catalogue=catalogue)
    first = proposal.actions[0]
    with store.session() as s:
        from tools.tables import ContentRow

        author = s.get(ContentRow, first.target_id).author_id  # type: ignore[union-attr]
        mine = [
            a.target_id
            for a in proposal.actions
            if s.get(ContentRow, a.target_id).author_id == author  # type: ignore[union-attr]
        ]
    appeal = appeals.file_appeal(
        store, catalogue, idempotency_key(proposal.id, first), reason="not me"
    )
    assert appeal.account_id == author and appeal.case_id is None
    outcome = appeals.decide_appeal(store, catalogue, platform, appeal.id, actor=CHIDI,
                                    outcome="overturned", reason="wrong match")  # fmt: skip
    assert len(outcome.restored) == len(mine) == 3
    for a in proposal.actions:
        state = platform.target("content", a.target_id)
        assert state is not None
        assert state.removals == (0 if a.target_id in mine else 1)
    with store.session() as s:
        standing = {
            (r.account_id, r.overturned)
            for r in s.scalars(select(StrikeRow).where(StrikeRow.source_action_key.like("prop_%")))
        }
    assert (author, True) in standing and any(not o for a, o in standing if a != author)
