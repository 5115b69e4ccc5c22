"""Case work: the queue per pod, claims, and a specialist's own decision on one case.

A case waits in its pod's queue (the pod of the policy its report or top classifier signal
names, from the catalogue's escalation route), ordered by priority then age. One specialist
claims it (exclusive: a conditional `UPDATE ... WHERE claimed_by IS NULL AND version = :seen`),
then decides it:

- violating, with a section and an action that section allows: the decision becomes a proposal
  of origin `decision` that the decider has already approved (the decider counts as the first
  of the catalogue's `decision_reviewers`), and no automation gate applies to it. With one
  reviewer it is executed at once through the fanout (exactly once, strikes, statements of
  reasons, audit); with two it waits for a second, distinct reviewer. The case is `decided`
  until the actions are applied, then `actioned` and `closed`.
- not violating, with a reason (and optionally the exception section that applies): closed.
- escalated: an escalation ticket is opened on the policy's route; the case is `escalated`.

Every transition is audited with who and when. The time from opening to first claim and from
claim to decision (handling time) are stored, for `warden cases stats`. Unknown ids, a case held
by someone else, an action the section does not allow, a second decision: `CaseworkError`,
nothing changed.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from knowledge.vocabulary import PRIORITY_ORDER, ActionType, Priority
from tools import strikes
from tools.audit import EventSpec, append_many
from tools.casework_tables import CaseWorkRow
from tools.fanout_tables import conflict_insert
from tools.models import Case, CaseStatus, StrikeEffect, action_list_hash
from tools.proposals import plan_actions
from tools.store import Store, case_from_row, utc, utcnow
from tools.tables import ApprovalRow, CaseItemRow, CaseRow, ContentRow, ProposalRow
from warden.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.gateway import EnforcementGateway
    from warden.identity import Directory

UNROUTED = "triage"  # the pod of a case no policy or signal points at
OPEN_STATUSES = (CaseStatus.NEW.value, CaseStatus.IN_REVIEW.value)
SECOND_REVIEW_TTL = timedelta(hours=24)
Verdict = Literal["violating", "not_violating", "escalated"]


class CaseworkError(InputError):
    """A claim or decision that cannot be made as asked; nothing was changed."""


class Route(BaseModel):
    policy_id: str | None
    section_id: str | None
    pod: str
    priority: Priority


class QueueEntry(BaseModel):
    case_id: str
    pod: str
    policy_id: str | None
    section_id: str | None
    priority: Priority
    status: CaseStatus
    opened_at: datetime
    age_minutes: float
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    excerpt: str = Field("", description="untrusted content, first characters")


class CaseWork(BaseModel):
    """Where one case stands in its workflow."""

    case_id: str
    status: CaseStatus
    pod: str
    claimed_by: str | None
    claimed_at: datetime | None
    first_claimed_at: datetime | None
    decision: Verdict | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    section_id: str | None = None
    action: ActionType | None = None
    note: str | None = None
    exception_section: str | None = None
    proposal_id: str | None = None
    escalation_id: str | None = None
    claim_wait_seconds: float | None = None
    handling_seconds: float | None = None


class DecisionResult(BaseModel):
    """What `warden cases decide --json` prints."""

    case: CaseWork
    actions: list[dict[str, str]] = Field(default_factory=list)
    required_reviewers: int = 1
    approvals: list[str] = Field(default_factory=list)
    proposal_status: str | None = None
    strike_effects: list[StrikeEffect] = Field(default_factory=list)
    statement_ids: list[str] = Field(default_factory=list)
    waiting_for_second_reviewer: bool = False


def route_of(catalogue: Catalogue, case: Case) -> Route:
    """The pod and priority of a case: its policy hint, else its strongest classifier signal."""
    policy_id, section_id = case.policy_id, None
    matches = catalogue.match_signals(dict(case.signals))
    if policy_id is None and matches:
        policy_id, section_id = matches[0].policy_id, matches[0].section_id
    elif policy_id is not None:
        section_id = next((m.section_id for m in matches if m.policy_id == policy_id), None)
    if policy_id is None or policy_id not in catalogue.policies:
        return Route(policy_id=None, section_id=None, pod=UNROUTED, priority=Priority.P3)
    route = catalogue.route(policy_id, section_id, imminent=False)
    return Route(policy_id=policy_id, section_id=section_id, pod=route.pod, priority=route.priority)


def _excerpt(case: Case) -> str:
    first = case.items[0]
    return (first.text or first.media_description or "").replace("\n", " ")[:80]


def queue(
    store: Store, catalogue: Catalogue, *, pod: str | None = None, now: datetime | None = None
) -> list[QueueEntry]:
    """Open cases (new, in review) of a pod (or every pod), by priority then age (oldest first)."""
    now = utc(now or utcnow())
    with store.session() as s:
        rows = s.scalars(select(CaseRow).where(CaseRow.status.in_(OPEN_STATUSES))).all()
        work = {
            w.case_id: w
            for w in s.scalars(
                select(CaseWorkRow).where(CaseWorkRow.case_id.in_([r.id for r in rows]))
            )
        }
        entries = []
        for row in rows:
            case = case_from_row(row)
            route = route_of(catalogue, case)
            if pod is not None and route.pod != pod:
                continue
            w = work.get(row.id)
            opened = utc(row.opened_at)
            entries.append(
                QueueEntry(
                    case_id=row.id,
                    pod=route.pod,
                    policy_id=route.policy_id,
                    section_id=route.section_id,
                    priority=route.priority,
                    status=CaseStatus(row.status),
                    opened_at=opened,
                    age_minutes=round((now - opened).total_seconds() / 60, 1),
                    claimed_by=w.claimed_by if w else None,
                    claimed_at=utc(w.claimed_at) if w and w.claimed_at else None,
                    excerpt=_excerpt(case),
                )
            )
    entries.sort(key=lambda e: (PRIORITY_ORDER.index(e.priority), e.opened_at, e.case_id))
    return entries


# ---- claims ----------------------------------------------------------------------------------


def _lock(s: Session, case_id: str) -> tuple[CaseRow, CaseWorkRow]:
    """The case and its work row, locked (the work row is created on first touch)."""
    case = s.scalars(select(CaseRow).where(CaseRow.id == case_id).with_for_update()).one_or_none()
    if case is None:
        raise NotFoundError(
            f"No case {case_id!r} in the store; see `warden cases queue` for the open ones."
        )
    s.execute(
        conflict_insert(s.get_bind().dialect.name, CaseWorkRow.__table__)  # type: ignore[arg-type]
        .values(case_id=case_id, version=0)
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    work = s.scalars(
        select(CaseWorkRow).where(CaseWorkRow.case_id == case_id).with_for_update()
    ).one()
    s.refresh(work)
    return case, work


def _move(s: Session, work: CaseWorkRow, **values: object) -> None:
    """Change the work row only if nobody changed it since we read it."""
    result = s.execute(
        update(CaseWorkRow)
        .where(CaseWorkRow.case_id == work.case_id, CaseWorkRow.version == work.version)
        .values(version=work.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CaseworkError(
            f"Case {work.case_id} changed while you acted on it; look again and retry."
        )
    s.refresh(work)


def _event(
    case_id: str, actor: str, verb: str, outcome: str, now: datetime, **details: object
) -> EventSpec:
    source = str(details.pop("source", "cli"))
    policy_id = details.pop("policy_id", None)
    section_id = details.pop("section_id", None)
    return EventSpec(
        actor=actor,
        verb=verb,
        subject=f"case:{case_id}",
        source=source,
        outcome=outcome,
        policy_id=str(policy_id) if policy_id else None,
        section_id=str(section_id) if section_id else None,
        details=dict(details),
        at=now,
    )


def _who(user: str | None) -> str:
    return f"<@{user}>" if user else "nobody"


def _check_open(case: CaseRow, work: CaseWorkRow) -> None:
    if case.status not in OPEN_STATUSES:
        by = f" by {_who(work.decided_by)}" if work.decided_by else ""
        when = f" at {utc(work.decided_at):%Y-%m-%d %H:%M} UTC" if work.decided_at else ""
        raise CaseworkError(
            f"Case {case.id} is already {case.status}{by}{when}; a case is decided once "
            "(an appeal reopens the question)."
        )


def _held_by_other(work: CaseWorkRow, actor: str) -> None:
    if work.claimed_by is not None and work.claimed_by != actor:
        since = f" since {utc(work.claimed_at):%Y-%m-%d %H:%M} UTC" if work.claimed_at else ""
        raise CaseworkError(
            f"Case {work.case_id} is held by {_who(work.claimed_by)}{since}; ask them to "
            "release it, or a lead to reassign it."
        )


def _may_decide(
    catalogue: Catalogue, policy_id: str | None, actor: str, directory: Directory | None
) -> None:
    """Only members of the policy's reviewer groups (catalogue `decisions.reviewers`) decide."""
    if directory is None or policy_id is None:
        return
    groups = catalogue.policy(policy_id).reviewers
    if any(actor in directory.members(g) for g in groups):
        return
    raise CaseworkError(
        f"{_who(actor)} is not in a reviewer group of {policy_id} ({', '.join(groups)}); "
        "ask to be added to WARDEN_REVIEWER_GROUPS, or reassign the case."
    )


def _claim_values(case: CaseRow, work: CaseWorkRow, actor: str, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {"claimed_by": actor, "claimed_at": now}
    if work.first_claimed_at is None:
        values["first_claimed_at"] = now
        values["claim_wait_seconds"] = max(0.0, (now - utc(case.opened_at)).total_seconds())
    return values


def claim(
    store: Store,
    catalogue: Catalogue,
    case_id: str,
    *,
    actor: str,
    directory: Directory | None = None,
    now: datetime | None = None,
    source: str = "cli",
) -> CaseWork:
    """Take a case from the queue; a case someone else holds is refused, naming them."""
    now = utc(now or utcnow())
    with store.session() as s:
        case, work = _lock(s, case_id)
        _check_open(case, work)
        _held_by_other(work, actor)
        route = route_of(catalogue, case_from_row(case))
        _may_decide(catalogue, route.policy_id, actor, directory)
        if work.claimed_by == actor:
            return _work(s, case, work, catalogue)  # claiming your own case again: no change
        _move(s, work, **_claim_values(case, work, actor, now))
        case.status = CaseStatus.IN_REVIEW.value
        append_many(
            s,
            [
                _event(
                    case_id,
                    actor,
                    "case.claimed",
                    "in_review",
                    now,
                    pod=route.pod,
                    policy_id=route.policy_id,
                    source=source,
                )
            ],
        )
        return _work(s, case, work, catalogue)


def release(
    store: Store,
    catalogue: Catalogue,
    case_id: str,
    *,
    actor: str,
    now: datetime | None = None,
    source: str = "cli",
) -> CaseWork:
    """Put a claimed case back in the queue (only its holder releases it)."""
    now = utc(now or utcnow())
    with store.session() as s:
        case, work = _lock(s, case_id)
        _check_open(case, work)
        if work.claimed_by is None:
            raise CaseworkError(f"Case {case_id} is not claimed; nothing to release.")
        _held_by_other(work, actor)
        _move(s, work, claimed_by=None, claimed_at=None)
        case.status = CaseStatus.NEW.value
        append_many(s, [_event(case_id, actor, "case.released", "new", now, source=source)])
        return _work(s, case, work, catalogue)


def reassign(
    store: Store,
    catalogue: Catalogue,
    case_id: str,
    *,
    actor: str,
    to: str,
    directory: Directory | None = None,
    now: datetime | None = None,
    source: str = "cli",
) -> CaseWork:
    """Hand an open case to another specialist (who must be allowed to decide it)."""
    now = utc(now or utcnow())
    with store.session() as s:
        case, work = _lock(s, case_id)
        _check_open(case, work)
        route = route_of(catalogue, case_from_row(case))
        _may_decide(catalogue, route.policy_id, to, directory)
        if work.claimed_by == to:
            raise CaseworkError(f"Case {case_id} is already held by {_who(to)}.")
        before = work.claimed_by
        _move(s, work, **_claim_values(case, work, to, now))
        case.status = CaseStatus.IN_REVIEW.value
        append_many(
            s,
            [
                _event(
                    case_id,
                    actor,
                    "case.reassigned",
                    "in_review",
                    now,
                    to=to,
                    previous=before,
                    source=source,
                )
            ],
        )
        return _work(s, case, work, catalogue)


def _work(s: Session, case: CaseRow, work: CaseWorkRow, catalogue: Catalogue) -> CaseWork:
    return CaseWork(
        case_id=case.id,
        status=CaseStatus(case.status),
        pod=route_of(catalogue, case_from_row(case)).pod,
        claimed_by=work.claimed_by,
        claimed_at=utc(work.claimed_at) if work.claimed_at else None,
        first_claimed_at=utc(work.first_claimed_at) if work.first_claimed_at else None,
        decision=work.decision,
        decided_by=work.decided_by,
        decided_at=utc(work.decided_at) if work.decided_at else None,
        section_id=work.section_id,
        action=ActionType(work.action) if work.action else None,
        note=work.note,
        exception_section=work.exception_section,
        proposal_id=work.proposal_id,
        escalation_id=work.escalation_id,
        claim_wait_seconds=work.claim_wait_seconds,
        handling_seconds=work.handling_seconds,
    )


def get_work(store: Store, catalogue: Catalogue, case_id: str) -> CaseWork:
    with store.session() as s:
        case = s.get(CaseRow, case_id)
        if case is None:
            raise NotFoundError(f"No case {case_id!r} in the store.")
        work = s.get(CaseWorkRow, case_id) or CaseWorkRow(case_id=case_id, version=0)
        return _work(s, case, work, catalogue)


# ---- decisions -------------------------------------------------------------------------------


def _members(s: Session, case_id: str) -> dict[str, str]:
    link = select(CaseItemRow.content_id).where(CaseItemRow.case_id == case_id)
    rows = s.execute(
        select(ContentRow.id, ContentRow.author_id).where(ContentRow.id.in_(link))
    ).all()
    return {str(c): str(a) for c, a in rows}


def preview_decision(
    store: Store,
    catalogue: Catalogue,
    case_id: str,
    *,
    section_id: str,
    action: ActionType,
    now: datetime | None = None,
) -> list[StrikeEffect]:
    """The strike consequence of exactly this action on this case, before anything happens."""
    _check_action(catalogue, section_id, action)
    with store.session() as s:
        if s.get(CaseRow, case_id) is None:
            raise NotFoundError(f"No case {case_id!r} in the store.")
        actions = plan_actions(
            _members(s, case_id),
            action=action,
            section_id=section_id,
            targets=None,
            source=f"case {case_id}",
        )
        return strikes.preview(store, catalogue, actions, now, session=s)


def _check_action(catalogue: Catalogue, section_id: str, action: ActionType) -> None:
    section = catalogue.section(section_id)
    if action not in section.allowed_actions:
        allowed = ", ".join(a.value for a in section.allowed_actions) or "none (cite a violation)"
        raise CaseworkError(
            f"{action.value} is not allowed by {section_id} ({section.title}); "
            f"allowed: {allowed}. Nothing was recorded."
        )


def decide(
    store: Store,
    catalogue: Catalogue,
    gateway: EnforcementGateway | None,
    case_id: str,
    *,
    actor: str,
    verdict: Verdict,
    section_id: str | None = None,
    action: ActionType | None = None,
    note: str | None = None,
    reason: str | None = None,
    exception_section: str | None = None,
    directory: Directory | None = None,
    now: datetime | None = None,
    source: str = "cli",
) -> DecisionResult:
    """Record a specialist's own decision on a case (see the module doc); no gate applies."""
    now = utc(now or utcnow())
    if verdict == "violating":
        if section_id is None or action is None:
            raise CaseworkError("A violating decision needs --section and --action.")
        _check_action(catalogue, section_id, ActionType(action))
        if gateway is None:
            raise CaseworkError("A violating decision needs an enforcement gateway to apply it.")
        return _decide_violating(
            store,
            catalogue,
            gateway,
            case_id,
            actor=actor,
            section_id=section_id,
            action=ActionType(action),
            note=note,
            directory=directory,
            now=now,
            source=source,
        )
    if verdict == "not_violating":
        if not (reason or "").strip():
            raise CaseworkError("A not-violating decision needs --reason (what the user is told).")
        if exception_section is not None:
            kind = catalogue.section(exception_section).kind
            if kind.value != "exception":
                raise CaseworkError(
                    f"{exception_section} is a {kind.value} section, not an exception; "
                    "cite the exception that applies (e.g. counter-speech), or none."
                )
        return _decide_without_action(
            store,
            catalogue,
            case_id,
            actor=actor,
            verdict=verdict,
            reason=reason,
            exception_section=exception_section,
            directory=directory,
            now=now,
            source=source,
        )
    if verdict == "escalated":
        return _decide_without_action(
            store,
            catalogue,
            case_id,
            actor=actor,
            verdict=verdict,
            reason=reason or note,
            exception_section=None,
            directory=directory,
            now=now,
            source=source,
        )
    raise CaseworkError(f"Unknown decision {verdict!r}: violating, not_violating or escalated.")


def _decided_values(
    case: CaseRow, work: CaseWorkRow, actor: str, now: datetime
) -> dict[str, object]:
    """Claim (if unclaimed) and decision times: handling time runs from the claim."""
    values: dict[str, object] = {}
    claimed_at = utc(work.claimed_at) if work.claimed_at else None
    if work.claimed_by is None:
        values.update(_claim_values(case, work, actor, now))
        claimed_at = now
    assert claimed_at is not None
    values.update(
        decided_by=actor,
        decided_at=now,
        handling_seconds=max(0.0, (now - claimed_at).total_seconds()),
    )
    return values


def _decide_without_action(
    store: Store,
    catalogue: Catalogue,
    case_id: str,
    *,
    actor: str,
    verdict: Verdict,
    reason: str | None,
    exception_section: str | None,
    directory: Directory | None,
    now: datetime,
    source: str,
) -> DecisionResult:
    with store.session() as s:
        case, work = _lock(s, case_id)
        _check_open(case, work)
        _held_by_other(work, actor)
        route = route_of(catalogue, case_from_row(case))
        _may_decide(catalogue, route.policy_id, actor, directory)
    if verdict == "escalated":
        from tools.escalations import open_escalation

        if route.policy_id is None:
            raise CaseworkError(
                f"Case {case_id} names no policy and no signal routes it; escalations are "
                "routed by policy. Decide it, or escalate from a recommendation."
            )
        # Opening the ticket records the decision too (`record_escalation`), in its transaction.
        open_escalation(
            store,
            catalogue,
            policy_id=route.policy_id,
            section_ids=[route.section_id] if route.section_id else None,
            case_id=case_id,
            opened_by=actor,
            summary=(reason or f"Escalated from case work on {case_id}.").strip(),
            now=now,
        )
        return _result(store, catalogue, case_id, [])
    with store.session() as s:
        case, work = _lock(s, case_id)
        _check_open(case, work)
        _held_by_other(work, actor)
        values = _decided_values(case, work, actor, now)
        _move(
            s,
            work,
            **values,
            decision=verdict,
            note=reason,
            exception_section=exception_section,
        )
        case.status = CaseStatus.CLOSED.value
        events = [
            _event(
                case_id,
                actor,
                "case.decided",
                verdict,
                now,
                reason=reason,
                exception_section=exception_section,
                handling_seconds=work.handling_seconds,
                policy_id=route.policy_id,
                section_id=exception_section,
                source=source,
            )
        ]
        events.append(_event(case_id, actor, "case.closed", "closed", now, source=source))
        append_many(s, events)
        return DecisionResult(case=_work(s, case, work, catalogue))


def _decide_violating(
    store: Store,
    catalogue: Catalogue,
    gateway: EnforcementGateway,
    case_id: str,
    *,
    actor: str,
    section_id: str,
    action: ActionType,
    note: str | None,
    directory: Directory | None,
    now: datetime,
    source: str,
) -> DecisionResult:
    section = catalogue.section(section_id)
    policy = catalogue.policy(section.policy_id)
    required = policy.decision_reviewers(section_id, [action])
    with store.session() as s:
        case, work = _lock(s, case_id)
        _check_open(case, work)
        _held_by_other(work, actor)
        _may_decide(catalogue, policy.id, actor, directory)
        actions = plan_actions(
            _members(s, case_id),
            action=action,
            section_id=section_id,
            targets=None,
            source=f"case {case_id}",
        )
        effects = strikes.preview(store, catalogue, actions, now, session=s)
        digest = action_list_hash(actions)
        proposal_id = f"prop_{uuid.uuid4().hex[:12]}"
        done = required <= 1
        s.add(
            ProposalRow(
                id=proposal_id,
                policy_id=policy.id,
                policy_version=policy.version,
                section_ids=[section_id],
                action=action.value,
                actions=[a.model_dump(mode="json") for a in actions],
                evidence=[note] if note else [],
                requester_id=actor,
                required_approvals=required,
                status="approved" if done else "pending",
                created_at=now,
                expires_at=now + SECOND_REVIEW_TTL,
                action_hash=digest,
                case_id=case_id,
                cluster_id=None,
                decided_by=actor if done else None,
                decided_at=now if done else None,
                version=0,
                origin="decision",
            )
        )
        s.flush()
        # The decider is the first reviewer of their own decision (four eyes: one more).
        s.add(
            ApprovalRow(
                proposal_id=proposal_id, approver_id=actor, decided_at=now, action_hash=digest
            )
        )
        values = _decided_values(case, work, actor, now)
        _move(
            s,
            work,
            **values,
            decision="violating",
            section_id=section_id,
            action=action.value,
            note=note,
            proposal_id=proposal_id,
        )
        case.status = CaseStatus.DECIDED.value
        common = {"policy_id": policy.id, "section_id": section_id, "source": source}
        append_many(
            s,
            [
                _event(
                    case_id,
                    actor,
                    "case.decided",
                    "violating",
                    now,
                    action=action.value,
                    note=note,
                    proposal_id=proposal_id,
                    handling_seconds=work.handling_seconds,
                    required_reviewers=required,
                    strike_effects=[e.model_dump(mode="json") for e in effects],
                    **common,
                ),
                EventSpec(
                    actor=actor,
                    verb="proposal.created",
                    subject=f"proposal:{proposal_id}",
                    source=source,
                    outcome="approved" if done else "pending",
                    policy_id=policy.id,
                    section_id=section_id,
                    policy_version=policy.version,
                    proposal_hash=digest,
                    details={
                        "origin": "decision",
                        "action": action.value,
                        "targets": len(actions),
                        "case_id": case_id,
                        "required_approvals": required,
                        "approved_by": [actor],
                    },
                    at=now,
                ),
            ],
        )
    if done:
        from tools.fanout import execute

        execute(store, gateway, proposal_id, catalogue=catalogue)
    return _result(store, catalogue, case_id, effects)


def _result(
    store: Store, catalogue: Catalogue, case_id: str, effects: Sequence[StrikeEffect]
) -> DecisionResult:
    from tools.fanout import idempotency_key
    from tools.tables import StatementRow

    with store.session() as s:
        case = s.get(CaseRow, case_id)
        work = s.get(CaseWorkRow, case_id)
        assert case is not None and work is not None
        out = DecisionResult(case=_work(s, case, work, catalogue), strike_effects=list(effects))
        if work.proposal_id is None:
            return out
        proposal = s.get(ProposalRow, work.proposal_id)
        assert proposal is not None
        approvals = s.scalars(
            select(ApprovalRow.approver_id)
            .where(ApprovalRow.proposal_id == proposal.id)
            .order_by(ApprovalRow.id)
        ).all()
        from tools.models import PlannedAction

        planned = [PlannedAction.model_validate(a) for a in proposal.actions]
        keys = [idempotency_key(proposal.id, a) for a in planned]
        authors = {a for a in _members(s, case_id).values()}
        keys += [strikes.strike_key(proposal.id, a) for a in sorted(authors)]
        statements = s.scalars(
            select(StatementRow.id).where(StatementRow.action_key.in_(keys))
        ).all()
        from tools.casework_tables import RestrictionRow

        restriction_statements = s.scalars(
            select(RestrictionRow.statement_id).where(RestrictionRow.proposal_id == proposal.id)
        ).all()
        out.actions = [
            {**a.model_dump(mode="json"), "key": k} for a, k in zip(planned, keys, strict=False)
        ]
        out.required_reviewers = proposal.required_approvals
        out.approvals = list(approvals)
        out.proposal_status = proposal.status
        out.statement_ids = sorted(set(statements) | {x for x in restriction_statements if x})
        out.waiting_for_second_reviewer = proposal.status == "pending"
        return out


def record_escalation(
    session: Session,
    case_id: str,
    actor: str,
    escalation_id: str,
    summary: str,
    now: datetime,
) -> None:
    """An escalation opened on an undecided case is the escalating person's decision on it
    (the card's Escalate button, `warden cases decide --escalate`); audited, timed."""
    case, work = _lock(session, case_id)
    if work.decision is not None or (work.claimed_by not in (None, actor)):
        return  # decided before, or held by someone else: the ticket alone records it
    values = _decided_values(case, work, actor, now)
    _move(session, work, **values, decision="escalated", note=summary, escalation_id=escalation_id)
    append_many(
        session,
        [
            _event(
                case_id,
                actor,
                "case.decided",
                "escalated",
                now,
                escalation_id=escalation_id,
                handling_seconds=work.handling_seconds,
                source="escalation",
            )
        ],
    )


def on_proposal_finished(session: Session, proposal_id: str, status: str, now: datetime) -> None:
    """The fanout finished a proposal: a decided case it came from is actioned, then closed."""
    proposal = session.get(ProposalRow, proposal_id)
    if proposal is None or proposal.case_id is None or proposal.origin != "decision":
        return
    case = session.get(CaseRow, proposal.case_id)
    if case is None or case.status != CaseStatus.DECIDED.value:
        return
    if status != "executed":
        return  # refused by the platform: the case stays decided, the failure is audited
    events = [
        _event(
            case.id,
            "warden",
            "case.actioned",
            "actioned",
            now,
            proposal_id=proposal_id,
            source="fanout",
        ),
        _event(
            case.id,
            "warden",
            "case.closed",
            "closed",
            now,
            proposal_id=proposal_id,
            source="fanout",
        ),
    ]
    case.status = CaseStatus.CLOSED.value
    append_many(session, events)


# ---- handling-time figures -------------------------------------------------------------------


class Durations(BaseModel):
    n: int
    median_minutes: float | None
    p90_minutes: float | None
    median_seconds: float | None = None
    p90_seconds: float | None = None


class CaseworkStats(BaseModel):
    """Time to first claim (opened -> first claim) and handling time (claim -> decision)."""

    time_to_claim: Durations
    handling: Durations
    decisions: dict[str, int]


def _durations(seconds: Sequence[float]) -> Durations:
    values = sorted(seconds)
    if not values:
        return Durations(n=0, median_minutes=None, p90_minutes=None)
    # Nearest rank: the smallest value with at least 90% of the values at or below it.
    p90 = values[max(0, math.ceil(0.9 * len(values)) - 1)]
    median = statistics.median(values)
    return Durations(
        n=len(values),
        median_minutes=round(median / 60, 2),
        p90_minutes=round(p90 / 60, 2),
        median_seconds=round(median, 1),
        p90_seconds=round(p90, 1),
    )


def stats(store: Store, *, since: datetime | None = None) -> CaseworkStats:
    with store.session() as s:
        query = select(CaseWorkRow)
        if since is not None:
            query = query.where(CaseWorkRow.first_claimed_at >= utc(since))
        rows = s.scalars(query).all()
    decisions: dict[str, int] = {}
    for r in rows:
        if r.decision:
            decisions[r.decision] = decisions.get(r.decision, 0) + 1
    return CaseworkStats(
        time_to_claim=_durations(
            [r.claim_wait_seconds for r in rows if r.claim_wait_seconds is not None]
        ),
        handling=_durations([r.handling_seconds for r in rows if r.handling_seconds is not None]),
        decisions=dict(sorted(decisions.items())),
    )
