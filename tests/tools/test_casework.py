"""Case work: the queue per pod, exclusive claims, a specialist's own decision and its
consequences (strikes, restrictions, statements, audit), every refusal leaving nothing changed.
Runs on SQLite and on Postgres (the `store` fixture)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType, RestrictionType
from tests.tools.helpers import case_line
from tools import audit, casework
from tools.cases import ensure_account, import_cases
from tools.casework import CaseworkError
from tools.casework_tables import CaseWorkRow, RestrictionRow
from tools.gateway import LocalPlatform
from tools.proposals import approve
from tools.store import Store, utcnow
from tools.strikes import account_report
from tools.tables import ProposalRow, StatementRow, StrikeRow
from warden.errors import NotFoundError

ANA, BEN, CHIDI = "UANA00001", "UBEN00001", "UCHIDI001"


class Groups:
    """A reviewer directory: ana and ben review critical harms; chidi reviews integrity."""

    def members(self, group: str) -> set[str]:
        return {"critical-harms": {ANA, BEN}, "integrity": {CHIDI}}.get(group, set())


def load(store: Store) -> None:
    lines = [
        case_line(
            "c-gv",
            [("gv-1", "acct-g", "kids laughing at a cat tied to a fence")],
            signals={"animal_cruelty": 0.95},
            opened_at="2026-11-19T10:00:00Z",
        ),
        case_line("c-ha", [("ha-1", "acct-h", "a group drawn as rats")]),
        case_line(
            "c-ha-old",
            [("ha-2", "acct-h2", "another")],
            opened_at="2026-11-18T09:00:00Z",
        ),
        case_line(
            "c-threat",
            [("ha-3", "acct-t", "go to their centre on friday")],
            signals={"hate/threatening": 0.9},
            opened_at="2026-11-19T11:00:00Z",
        ),
        case_line(
            "c-sp",
            [("sp-1", "acct-s", "win a phone")],
            signals={"spam_score": 0.97},
            policy_id="SP",
        ),
    ]
    import_cases(store, lines)


def _counts(store: Store) -> tuple[int, int, int]:
    with store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(ProposalRow)) or 0,
            s.scalar(select(func.count()).select_from(StrikeRow)) or 0,
            s.scalar(select(func.count()).select_from(StatementRow)) or 0,
        )


def test_queue_per_pod_by_priority_then_age(store: Store, catalogue: Catalogue) -> None:
    load(store)
    ids = [e.case_id for e in casework.queue(store, catalogue, pod="critical-harms")]
    # HA-2.5 (critical) is P1; the others P2, oldest first.
    assert ids == ["c-threat", "c-ha-old", "c-ha", "c-gv"]
    assert [e.case_id for e in casework.queue(store, catalogue, pod="integrity")] == ["c-sp"]
    everything = casework.queue(store, catalogue)
    assert {e.pod for e in everything} == {"critical-harms", "integrity"}


def test_claim_is_exclusive_and_audited(store: Store, catalogue: Catalogue) -> None:
    load(store)
    work = casework.claim(store, catalogue, "c-gv", actor=ANA, directory=Groups())
    assert (work.status, work.claimed_by, work.pod) == ("in_review", ANA, "critical-harms")
    assert work.claim_wait_seconds is not None and work.claim_wait_seconds > 0
    with pytest.raises(CaseworkError, match=f"held by <@{ANA}>"):
        casework.claim(store, catalogue, "c-gv", actor=BEN, directory=Groups())
    assert casework.get_work(store, catalogue, "c-gv").claimed_by == ANA
    again = casework.claim(store, catalogue, "c-gv", actor=ANA)  # your own again: no change
    assert again.claimed_at == work.claimed_at
    (event,) = audit.events(store, subject="case:c-gv")
    assert (event.verb, event.actor, event.outcome) == ("case.claimed", ANA, "in_review")
    entry = next(e for e in casework.queue(store, catalogue) if e.case_id == "c-gv")
    assert entry.claimed_by == ANA


def test_claim_refuses_unknown_cases_and_people_outside_the_reviewer_groups(
    store: Store, catalogue: Catalogue
) -> None:
    load(store)
    with pytest.raises(NotFoundError):
        casework.claim(store, catalogue, "c-nope", actor=ANA)
    with pytest.raises(CaseworkError, match="not in a reviewer group of GV"):
        casework.claim(store, catalogue, "c-gv", actor=CHIDI, directory=Groups())
    assert casework.get_work(store, catalogue, "c-gv").status == "new"


def test_release_and_reassign(store: Store, catalogue: Catalogue) -> None:
    load(store)
    casework.claim(store, catalogue, "c-ha", actor=ANA)
    with pytest.raises(CaseworkError, match="held by"):
        casework.release(store, catalogue, "c-ha", actor=BEN)
    released = casework.release(store, catalogue, "c-ha", actor=ANA)
    assert (released.status, released.claimed_by) == ("new", None)
    with pytest.raises(CaseworkError, match="not claimed"):
        casework.release(store, catalogue, "c-ha", actor=ANA)
    moved = casework.reassign(store, catalogue, "c-ha", actor=ANA, to=BEN, directory=Groups())
    assert (moved.claimed_by, moved.status) == (BEN, "in_review")
    with pytest.raises(CaseworkError, match="not in a reviewer group"):
        casework.reassign(store, catalogue, "c-ha", actor=ANA, to=CHIDI, directory=Groups())
    verbs = [e.verb for e in audit.events(store, subject="case:c-ha")]
    assert verbs == ["case.claimed", "case.released", "case.reassigned"]


def test_own_decision_removes_strikes_and_closes_without_any_gate(
    store: Store, catalogue: Catalogue
) -> None:
    load(store)
    platform = LocalPlatform(store.engine)
    casework.claim(store, catalogue, "c-gv", actor=ANA)
    preview = casework.preview_decision(
        store, catalogue, "c-gv", section_id="GV-2.3", action=ActionType.REMOVE
    )
    assert [(e.account_id, e.active_before, e.active_after) for e in preview] == [("acct-g", 0, 1)]
    result = casework.decide(
        store,
        catalogue,
        platform,
        "c-gv",
        actor=ANA,
        verdict="violating",
        section_id="GV-2.3",
        action=ActionType.REMOVE,
        note="a distressed animal",
        directory=Groups(),
    )
    case = result.case
    assert (case.status, case.decision, case.decided_by, case.action) == (
        "closed",
        "violating",
        ANA,
        ActionType.REMOVE,
    )
    assert case.handling_seconds is not None and case.handling_seconds >= 0
    assert result.proposal_status == "executed" and result.approvals == [ANA]
    assert [a["target_id"] for a in result.actions] == ["gv-1"]
    assert result.strike_effects == preview
    assert len(result.statement_ids) == 2  # the removal and the strike it gave
    with store.session() as s:
        proposal = s.get(ProposalRow, case.proposal_id)
        assert proposal is not None and proposal.origin == "decision"
    target = platform.target("content", "gv-1")
    assert target is not None and target.removals == 1
    report = account_report(store, catalogue, "acct-g")
    assert [(st.policy_id, st.weight) for st in report.active_strikes] == [("GV", 1)]
    verbs = [e.verb for e in audit.events(store, subject="case:c-gv")]
    assert verbs == ["case.claimed", "case.decided", "case.actioned", "case.closed"]
    decided = audit.events(store, subject="case:c-gv")[1]
    assert decided.actor == ANA and decided.details["proposal_id"] == case.proposal_id
    # A second decision on the decided case is refused and changes nothing.
    before = _counts(store)
    with pytest.raises(CaseworkError, match="already closed by"):
        casework.decide(
            store, catalogue, platform, "c-gv", actor=ANA, verdict="not_violating", reason="x"
        )
    assert _counts(store) == before
    assert verify_ok(store)


def verify_ok(store: Store) -> bool:
    return audit.verify(store).ok


def test_refusals_change_nothing(store: Store, catalogue: Catalogue) -> None:
    load(store)
    platform = LocalPlatform(store.engine)
    casework.claim(store, catalogue, "c-gv", actor=ANA)
    before = _counts(store)
    with pytest.raises(CaseworkError, match=r"label is not allowed by GV-2\.3"):
        casework.decide(
            store,
            catalogue,
            platform,
            "c-gv",
            actor=ANA,
            verdict="violating",
            section_id="GV-2.3",
            action=ActionType.LABEL,
        )
    with pytest.raises(CaseworkError, match="held by"):
        casework.decide(
            store,
            catalogue,
            platform,
            "c-gv",
            actor=BEN,
            verdict="violating",
            section_id="GV-2.3",
            action=ActionType.REMOVE,
        )
    with pytest.raises(NotFoundError):
        casework.decide(
            store,
            catalogue,
            platform,
            "c-none",
            actor=ANA,
            verdict="violating",
            section_id="GV-2.3",
            action=ActionType.REMOVE,
        )
    with pytest.raises(NotFoundError):
        casework.decide(
            store,
            catalogue,
            platform,
            "c-gv",
            actor=ANA,
            verdict="violating",
            section_id="GV-9.9",
            action=ActionType.REMOVE,
        )
    with pytest.raises(CaseworkError, match="needs --reason"):
        casework.decide(store, catalogue, platform, "c-gv", actor=ANA, verdict="not_violating")
    with pytest.raises(CaseworkError, match="not an exception"):
        casework.decide(
            store,
            catalogue,
            platform,
            "c-gv",
            actor=ANA,
            verdict="not_violating",
            reason="staged",
            exception_section="GV-2.3",
        )
    with pytest.raises(CaseworkError, match="not in a reviewer group"):
        casework.decide(
            store,
            catalogue,
            platform,
            "c-sp",
            actor=ANA,
            verdict="violating",
            section_id="SP-2.1",
            action=ActionType.REMOVE,
            directory=Groups(),
        )
    assert _counts(store) == before
    work = casework.get_work(store, catalogue, "c-gv")
    assert (work.status, work.decision) == ("in_review", None)


def test_not_violating_closes_with_reason_and_exception(store: Store, catalogue: Catalogue) -> None:
    load(store)
    result = casework.decide(
        store,
        catalogue,
        None,
        "c-gv",
        actor=BEN,
        verdict="not_violating",
        reason="a documentary about animal rescue",
        exception_section="GV-3.1",
    )
    assert (result.case.status, result.case.decision) == ("closed", "not_violating")
    assert result.case.exception_section == "GV-3.1" and result.case.claimed_by == BEN
    assert result.case.handling_seconds == 0.0  # decided straight from the queue
    assert _counts(store) == (0, 0, 0)
    verbs = [e.verb for e in audit.events(store, subject="case:c-gv")]
    assert verbs == ["case.decided", "case.closed"]


def test_escalate_opens_a_ticket_on_the_route(store: Store, catalogue: Catalogue) -> None:
    load(store)
    casework.claim(store, catalogue, "c-threat", actor=ANA)
    result = casework.decide(
        store, catalogue, None, "c-threat", actor=ANA, verdict="escalated", reason="credible"
    )
    assert result.case.status == "escalated" and result.case.escalation_id
    esc = store.get_escalation(result.case.escalation_id)
    assert esc.case_id == "c-threat" and esc.priority == "P0" and esc.on_call


def test_a_decision_needing_four_eyes_waits_for_a_second_person(
    store: Store, catalogue: Catalogue
) -> None:
    from tools.fanout import execute

    load(store)
    platform = LocalPlatform(store.engine)
    result = casework.decide(
        store,
        catalogue,
        platform,
        "c-threat",
        actor=ANA,
        verdict="violating",
        section_id="HA-2.5",
        action=ActionType.SUSPEND,
    )
    assert result.waiting_for_second_reviewer and result.required_reviewers == 2
    assert result.case.status == "decided" and result.approvals == [ANA]
    proposal_id = result.case.proposal_id
    assert proposal_id is not None
    digest = store.get_proposal(proposal_id).action_hash
    alone = approve(store, proposal_id, ANA, digest, approvers={ANA, BEN})
    assert not alone.accepted  # the decider cannot be the second pair of eyes
    second = approve(store, proposal_id, BEN, digest, approvers={ANA, BEN})
    assert second.accepted and second.status == "approved"
    execute(store, platform, proposal_id, catalogue=catalogue)
    assert casework.get_work(store, catalogue, "c-threat").status == "closed"
    account = store.get_account("acct-t")
    assert account.status == "suspended"
    (restriction,) = account_report(store, catalogue, "acct-t").active_restrictions
    assert restriction.restriction == RestrictionType.SUSPEND and restriction.ends_at is None


def test_threshold_restriction_has_a_statement_and_ends_by_itself(
    store: Store, catalogue: Catalogue
) -> None:
    load(store)
    now = utcnow()
    with store.session() as s:
        ensure_account(s, "acct-h")
        s.add(
            StrikeRow(
                id="seed-h",
                account_id="acct-h",
                policy_id="HA",
                section_id="HA-2.2",
                weight=1,
                issued_at=now - timedelta(days=10),
                expires_at=now + timedelta(days=80),
                source_action_key="seed:h",
                overturned=False,
            )
        )
    preview = casework.preview_decision(
        store, catalogue, "c-ha", section_id="HA-2.2", action=ActionType.REMOVE
    )
    assert preview[0].threshold_crossed == RestrictionType.LIMIT_DISTRIBUTION
    assert preview[0].restriction_days == 14
    result = casework.decide(
        store,
        catalogue,
        LocalPlatform(store.engine),
        "c-ha",
        actor=ANA,
        verdict="violating",
        section_id="HA-2.2",
        action=ActionType.REMOVE,
    )
    assert result.case.status == "closed"
    report = account_report(store, catalogue, "acct-h")
    assert report.status == "limited"
    (restriction,) = report.active_restrictions
    assert restriction.ends_at is not None
    assert timedelta(days=13) < restriction.ends_at - now < timedelta(days=15)
    assert restriction.statement_id in result.statement_ids
    with store.session() as s:
        sor = s.scalars(
            select(StatementRow).where(StatementRow.id == restriction.statement_id)
        ).one()
        assert "14 days" in json.dumps(sor.data)
    events = [e.verb for e in audit.events(store, subject="account:acct-h")]
    assert "restriction.applied" in events
    later = store.get_account("acct-h", now=now + timedelta(days=15))
    assert later.status == "active"  # nobody lifted it: it ended


def test_on_violation_section_restricts_at_once_and_the_preview_says_so(
    store: Store, catalogue: Catalogue
) -> None:
    section = next(
        s
        for s in catalogue.sections_of("CS")
        if s.on_violation is not None and ActionType.REMOVE in s.allowed_actions
    )
    import_cases(
        store,
        [case_line("c-cs", [("cs-1", "acct-c", "x")], signals={}, policy_id="CS")],
    )
    (effect,) = casework.preview_decision(
        store, catalogue, "c-cs", section_id=section.id, action=ActionType.REMOVE
    )
    assert effect.threshold_crossed == RestrictionType.SUSPEND
    casework.decide(
        store,
        catalogue,
        LocalPlatform(store.engine),
        "c-cs",
        actor=ANA,
        verdict="violating",
        section_id=section.id,
        action=ActionType.REMOVE,
    )
    assert store.get_account("acct-c").status == "suspended"
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RestrictionRow)) == 1


def test_stats_give_median_and_p90(store: Store, catalogue: Catalogue) -> None:
    load(store)
    for case_id in ("c-gv", "c-ha", "c-ha-old"):
        casework.claim(store, catalogue, case_id, actor=ANA)
        casework.decide(store, catalogue, None, case_id, actor=ANA, verdict="not_violating",
                        reason="fine")  # fmt: skip
    with store.session() as s:
        for n, row in enumerate(s.scalars(select(CaseWorkRow).order_by(CaseWorkRow.case_id))):
            row.handling_seconds = 60.0 * (n + 1)
    figures = casework.stats(store)
    assert figures.handling.n == 3
    assert (figures.handling.median_minutes, figures.handling.p90_minutes) == (2.0, 3.0)
    assert figures.time_to_claim.n == 3 and figures.time_to_claim.median_minutes is not None
    assert figures.decisions == {"not_violating": 3}


def test_counts_from_lets_a_policy_count_another_policys_strikes(
    store: Store, catalogue: Catalogue
) -> None:
    from tools.strikes import preview

    gv = catalogue.policies["GV"]
    counting = gv.model_copy(
        update={"strikes": gv.strikes.model_copy(update={"counts_from": ("HA",)})}
    )
    merged = catalogue.model_copy(update={"policies": {**catalogue.policies, "GV": counting}})
    load(store)
    now = utcnow()
    with store.session() as s:
        ensure_account(s, "acct-g")
        for n in range(2):
            s.add(
                StrikeRow(
                    id=f"seed-ha-{n}",
                    account_id="acct-g",
                    policy_id="HA",
                    section_id="HA-2.2",
                    weight=1,
                    issued_at=now - timedelta(days=3 + n),
                    expires_at=now + timedelta(days=60),
                    source_action_key=f"seed:ha:{n}",
                    overturned=False,
                )
            )
    from tools.models import PlannedAction

    remove = [
        PlannedAction(
            target_type="content", target_id="gv-1", action=ActionType.REMOVE, section_id="GV-2.3"
        )
    ]
    (alone,) = preview(store, catalogue, remove)
    assert (alone.active_before, alone.threshold_crossed) == (0, None)
    (counted,) = preview(store, merged, remove)
    assert (counted.active_before, counted.active_after) == (2, 3)
    assert counted.threshold_crossed == RestrictionType.SUSPEND
