"""Automation gates: per-policy mode (off / shadow / propose), evaluation evidence, shadow mode.

Call `check(store, gates, policy_id, batch_size)` wherever a proposal is about to be created; only
`GateDecision.allowed` lets it be posted. When `GateDecision.record_shadow` is set, call
`record_shadow(...)` instead, so what would have been proposed is kept for agreement figures.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tools.ops_tables import EvalPolicyRow, EvalRunRow, GateModeRow, ShadowRecordRow
from tools.store import Store
from tools.tables import ProposalRow
from warden.errors import InputError, WardenError

DEFAULT_GATES_FILE = Path(__file__).resolve().parent / "gates.yaml"


class GateClosed(WardenError):
    """A gate refused a change (e.g. `propose` without a passing evaluation)."""


class GateMode(StrEnum):
    OFF = "off"
    SHADOW = "shadow"
    PROPOSE = "propose"


class GateRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: GateMode = GateMode.SHADOW
    min_precision: float = Field(0.95, ge=0.0, le=1.0)
    min_support: int = Field(200, ge=1)
    max_batch_size: int = Field(500, ge=1)
    # Live QA: a propose-mode policy whose reviewed decisions agree less than this drops back
    # to shadow (after at least `min_qa_reviews` reviews in the last `QA_WINDOW`).
    min_qa_agreement: float = Field(0.9, ge=0.0, le=1.0)
    min_qa_reviews: int = Field(5, ge=1)

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted `off` as false.
        return "off" if value is False else value


class DetectorRule(BaseModel):
    """A detector's own limits on one section (or "*": all its sections); only ever stricter
    than the policy's gate, so a new detector cannot open what the evaluation did not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: GateMode | None = None
    max_batch_size: int | None = Field(None, ge=1)

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        return "off" if value is False else value


_STRICTNESS = {GateMode.OFF: 0, GateMode.SHADOW: 1, GateMode.PROPOSE: 2}


class _GatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: GateRule = Field(default_factory=GateRule)
    policies: dict[str, dict[str, object] | None] = Field(default_factory=dict)
    detectors: dict[str, dict[str, DetectorRule]] = Field(
        default_factory=dict, description="detector (name or name@version) -> section -> rule"
    )


class Gates(BaseModel):
    """The gates file, resolved: every listed policy has a full rule; others use the defaults."""

    model_config = ConfigDict(frozen=True)

    source: str
    defaults: GateRule
    policies: dict[str, GateRule]
    detectors: dict[str, dict[str, DetectorRule]] = Field(default_factory=dict)

    def rule(self, policy_id: str) -> GateRule:
        return self.policies.get(policy_id, self.defaults)

    def detector_rule(self, detector: str, section_id: str) -> DetectorRule | None:
        """The most specific entry: name@version before name, the section before "*"."""
        name = detector.partition("@")[0]
        for key in dict.fromkeys((detector, name)):
            sections = self.detectors.get(key)
            if sections is None:
                continue
            found = sections.get(section_id) or sections.get("*")
            if found is not None:
                return found
        return None


def load_gates(path: Path | None = None) -> Gates:
    """Read a gates file (default: WARDEN_GATES_FILE, else the shipped tools/gates.yaml)."""
    if path is None:
        from warden.settings import get_settings

        path = get_settings().gates_file or DEFAULT_GATES_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the gates file: {exc}") from exc
    where = ""
    try:
        spec = _GatesFile.model_validate(raw)
        defaults = spec.defaults
        policies = {}
        for pid, values in spec.policies.items():
            where = f"policies.{pid}."
            policies[pid] = GateRule.model_validate({**defaults.model_dump(), **(values or {})})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: {where}{field}: {first['msg']}") from exc
    return Gates(source=str(path), defaults=defaults, policies=policies, detectors=spec.detectors)


class Evidence(BaseModel):
    """The evaluation figures a gate relied on."""

    eval_run_id: str
    dataset: str
    evaluated_at: datetime
    precision: float | None
    recall: float | None
    support: int


class GateDecision(BaseModel):
    """What a gate says about one proposal for one policy."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    mode: GateMode
    allowed: bool = Field(description="the proposal may be posted for approval")
    record_shadow: bool = Field(description="record what would have been proposed instead")
    reason: str
    rule: GateRule
    evidence: Evidence | None = None


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def latest_evidence(session: Session, policy_id: str, min_support: int) -> Evidence | None:
    """The newest stored evaluation with at least `min_support` labelled positives for the policy.

    The newest sufficiently large run decides: an older passing run does not outvote a newer
    failing one.
    """
    query = (
        select(EvalPolicyRow, EvalRunRow)
        .join(EvalRunRow, EvalRunRow.id == EvalPolicyRow.run_id)
        .where(EvalPolicyRow.policy_id == policy_id)
        .order_by(EvalRunRow.finished_at.desc(), EvalRunRow.id.desc())
        .limit(1)
    )
    # Too-small runs (e.g. `--limit 50`) only count when nothing large enough exists, and then
    # only to show their figures in a refusal.
    row = session.execute(query.where(EvalPolicyRow.support >= min_support)).first()
    row = row or session.execute(query).first()
    if row is None:
        return None
    figures, run = row
    return Evidence(
        eval_run_id=run.id,
        dataset=run.dataset,
        evaluated_at=run.finished_at,
        precision=figures.precision,
        recall=figures.recall,
        support=figures.support,
    )


def _passes(rule: GateRule, evidence: Evidence | None) -> bool:
    return (
        evidence is not None
        and evidence.precision is not None
        and evidence.precision >= rule.min_precision
        and evidence.support >= rule.min_support
    )


def _figures(rule: GateRule, evidence: Evidence | None) -> str:
    need = f"needs precision >= {rule.min_precision:.2f} on >= {rule.min_support} labelled cases"
    if evidence is None:
        return f"no stored evaluation for this policy ({need})"
    precision = "n/a" if evidence.precision is None else f"{evidence.precision:.3f}"
    return (
        f"latest evaluation {evidence.eval_run_id} on {evidence.dataset}: precision {precision} "
        f"on {evidence.support} labelled cases ({need})"
    )


def _mode(session: Session, gates: Gates, policy_id: str) -> GateMode:
    override = session.get(GateModeRow, policy_id)
    return GateMode(override.mode) if override else gates.rule(policy_id).mode


def check(
    store: Store,
    gates: Gates,
    policy_id: str,
    batch_size: int,
    *,
    section_id: str | None = None,
    detector: str | None = None,
) -> GateDecision:
    """Decide whether a proposal of `batch_size` actions under `policy_id` may be posted.

    With a detector and a section, the gate is per (section, detector): the policy's gate,
    narrowed by the detector's entry in the gates file (a stricter mode, a smaller batch).
    """
    rule = gates.rule(policy_id)
    with store.session() as s:
        mode = _mode(s, gates, policy_id)
        evidence = latest_evidence(s, policy_id, rule.min_support)
    shown = policy_id
    narrowed = gates.detector_rule(detector, section_id) if detector and section_id else None
    if narrowed is not None:
        if narrowed.mode is not None and _STRICTNESS[narrowed.mode] < _STRICTNESS[mode]:
            mode, shown = narrowed.mode, f"{policy_id} ({section_id}, detector {detector})"
        if narrowed.max_batch_size is not None:
            limit = min(rule.max_batch_size, narrowed.max_batch_size)
            rule = rule.model_copy(update={"max_batch_size": limit})
    return _decide(policy_id, shown, mode, rule, evidence, batch_size, gates.source)


def _decide(
    policy_id: str,
    shown: str,
    mode: GateMode,
    rule: GateRule,
    evidence: Evidence | None,
    batch_size: int,
    source: str,
) -> GateDecision:

    def decision(allowed: bool, shadow: bool, reason: str) -> GateDecision:
        return GateDecision(
            policy_id=policy_id,
            mode=mode,
            allowed=allowed,
            record_shadow=shadow,
            reason=reason,
            rule=rule,
            evidence=evidence,
        )

    if mode is GateMode.OFF:
        return decision(False, False, f"Automation is off for {shown} (gates: {source}).")
    if batch_size > rule.max_batch_size:
        return decision(
            False,
            mode is GateMode.SHADOW,
            f"{batch_size} actions exceed the {shown} gate's maximum batch of "
            f"{rule.max_batch_size}; split the proposal or raise max_batch_size.",
        )
    if mode is GateMode.SHADOW:
        return decision(
            False, True, f"{shown} is in shadow mode: recorded, not posted for approval."
        )
    if not _passes(rule, evidence):
        # The file or an old override may say propose while the evidence no longer holds.
        return decision(
            False,
            True,
            f"{policy_id} is set to propose but has no passing evaluation: "
            f"{_figures(rule, evidence)}. Recorded in shadow instead.",
        )
    return decision(True, False, f"{policy_id} may propose: {_figures(rule, evidence)}.")


class SecondPersonNeeded(GateClosed):
    """A critical-harm policy's gate opens only when a second person confirms the change."""


GATE_SET, GATE_REQUESTED = "gate.set", "gate.set.requested"
QA_WINDOW = timedelta(days=30)
QA_ACTOR = "warden:qa"


def _is_critical(policy_id: str) -> bool:
    from knowledge.catalogue import load_catalogue

    catalogue = load_catalogue()
    return policy_id in catalogue.policies and catalogue.policies[policy_id].critical_harm


def set_mode(
    store: Store,
    gates: Gates,
    policy_id: str,
    mode: GateMode,
    *,
    actor: str,
    now: datetime | None = None,
    critical_harm: bool | None = None,
) -> GateDecision:
    """Switch a policy's mode in the store, audited in the hash-chained log.

    `propose` is refused without a passing evaluation. For a critical-harm policy (from the
    catalogue unless `critical_harm` says) `propose` needs two people: the first call records
    the request (audited) and raises `SecondPersonNeeded`; the same change by someone else
    applies it. Narrowing automation (shadow, off) never waits for a second person.
    """
    from tools.audit import EventSpec, append_many
    from tools.tables import AuditRow

    rule = gates.rule(policy_id)
    at = _now(now)
    subject = f"gate:{policy_id}"
    if critical_harm is None:
        critical_harm = _is_critical(policy_id)
    waiting: SecondPersonNeeded | None = None
    with store.session() as s:
        evidence = latest_evidence(s, policy_id, rule.min_support)
        if mode is GateMode.PROPOSE and not _passes(rule, evidence):
            raise GateClosed(
                f"Refused: {policy_id} cannot be switched to propose: {_figures(rule, evidence)}. "
                f"Run `warden eval DATASET` with labelled {policy_id} cases first."
            )
        before = _mode(s, gates, policy_id)
        details: dict[str, object] = {
            "from": before.value,
            "to": mode.value,
            "eval_run_id": evidence.eval_run_id if evidence else None,
        }
        if mode is GateMode.PROPOSE and critical_harm:
            last = s.scalars(
                select(AuditRow)
                .where(AuditRow.subject == subject, AuditRow.verb.in_((GATE_SET, GATE_REQUESTED)))
                .order_by(AuditRow.seq.desc())
                .limit(1)
            ).first()
            pending = (
                last is not None
                and last.verb == GATE_REQUESTED
                and json.loads(last.details).get("to") == mode.value
            )
            if last is not None and pending and last.actor != actor:
                details["requested_by"] = last.actor
            else:
                requester = last.actor if last is not None and pending else actor
                if not pending:
                    append_many(
                        s,
                        [
                            EventSpec(
                                actor=actor,
                                verb=GATE_REQUESTED,
                                subject=subject,
                                source="gates",
                                outcome="awaiting second person",
                                policy_id=policy_id,
                                details=details,
                                at=at,
                            )
                        ],
                    )
                waiting = SecondPersonNeeded(
                    f"{policy_id} is a critical-harm policy: switching it to propose needs a "
                    f"second person. Requested by {requester}; someone else must run "
                    f"`warden gates set {policy_id} propose` to confirm."
                )
        if waiting is None:
            row = s.get(GateModeRow, policy_id)
            if row is None:
                row = GateModeRow(policy_id=policy_id)
                s.add(row)
            row.mode = mode.value
            row.set_by = actor
            row.set_at = at
            row.eval_run_id = evidence.eval_run_id if evidence else None
            append_many(
                s,
                [
                    EventSpec(
                        actor=actor,
                        verb=GATE_SET,
                        subject=subject,
                        source="gates",
                        outcome=mode.value,
                        policy_id=policy_id,
                        details=details,
                        at=at,
                    )
                ],
            )
    if waiting is not None:
        raise waiting  # after the commit: the request stays on record
    return check(store, gates, policy_id, 1)


def enforce_live_qa(
    store: Store, gates: Gates, policy_id: str, *, now: datetime | None = None
) -> GateDecision | None:
    """Drop a propose-mode policy to shadow when its live QA agreement is below its gate's
    minimum; audited like any gate change. Returns the new decision, or None if unchanged."""
    from tools.qa import quality_scores

    rule = gates.rule(policy_id)
    at = _now(now)
    with store.session() as s:
        if _mode(s, gates, policy_id) is not GateMode.PROPOSE:
            return None
    scores = {q.key: q for q in quality_scores(store, since=at - QA_WINDOW).by_policy}
    score = scores.get(policy_id)
    if score is None or score.reviewed < rule.min_qa_reviews or score.rate is None:
        return None
    if score.rate >= rule.min_qa_agreement:
        return None
    from tools.audit import EventSpec, append_many

    with store.session() as s:
        row = s.get(GateModeRow, policy_id)
        if row is None:
            row = GateModeRow(policy_id=policy_id)
            s.add(row)
        row.mode, row.set_by, row.set_at = GateMode.SHADOW.value, QA_ACTOR, at
        append_many(
            s,
            [
                EventSpec(
                    actor=QA_ACTOR,
                    verb=GATE_SET,
                    subject=f"gate:{policy_id}",
                    source="qa",
                    outcome=GateMode.SHADOW.value,
                    policy_id=policy_id,
                    details={
                        "from": GateMode.PROPOSE.value,
                        "to": GateMode.SHADOW.value,
                        "qa_agreement": round(score.rate, 4),
                        "qa_reviewed": score.reviewed,
                        "min_qa_agreement": rule.min_qa_agreement,
                    },
                    at=at,
                )
            ],
        )
    return check(store, gates, policy_id, 1)


# ---- shadow mode ----------------------------------------------------------------------------


class ShadowRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    created_at: datetime
    policy_id: str
    section_ids: list[str]
    action: str
    case_id: str | None
    cluster_id: str | None
    batch_size: int
    requester_id: str
    human_action: str | None = None
    agreed: bool | None = None


def _shadow(row: ShadowRecordRow) -> ShadowRecord:
    return ShadowRecord(
        id=row.id,
        created_at=row.created_at,
        policy_id=row.policy_id,
        section_ids=list(row.section_ids),
        action=row.action,
        case_id=row.case_id,
        cluster_id=row.cluster_id,
        batch_size=row.batch_size,
        requester_id=row.requester_id,
        human_action=row.human_action,
        agreed=row.agreed,
    )


def record_shadow(
    store: Store,
    *,
    policy_id: str,
    section_ids: Sequence[str],
    action: str,
    target_ids: Sequence[str],
    requester_id: str,
    case_id: str | None = None,
    cluster_id: str | None = None,
    now: datetime | None = None,
) -> ShadowRecord:
    """Keep what would have been proposed; nothing is posted or executed."""
    row = ShadowRecordRow(
        id=f"sh-{uuid.uuid4().hex[:16]}",
        created_at=_now(now),
        policy_id=policy_id,
        section_ids=list(section_ids),
        action=str(action),
        case_id=case_id,
        cluster_id=cluster_id,
        target_ids=list(target_ids),
        batch_size=len(target_ids),
        requester_id=requester_id,
    )
    with store.session() as s:
        s.add(row)
    return _shadow(row)


def record_human_decision(
    store: Store,
    *,
    action: str | None,
    decided_by: str,
    case_id: str | None = None,
    cluster_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Attach a human decision (None = no action) to undecided shadow records on the same items.

    Returns how many shadow records it settled. Agreement means the human took the same action.
    """
    if case_id is None and cluster_id is None:
        raise InputError("A human decision needs the case id or the cluster id it was about.")
    where = (
        ShadowRecordRow.case_id == case_id
        if case_id is not None
        else ShadowRecordRow.cluster_id == cluster_id
    )
    settled = 0
    with store.session() as s:
        rows = s.scalars(select(ShadowRecordRow).where(where, ShadowRecordRow.agreed.is_(None)))
        for row in rows:
            # Conditional update: two replicas settling the same record count it once.
            result = s.execute(
                update(ShadowRecordRow)
                .where(ShadowRecordRow.id == row.id, ShadowRecordRow.agreed.is_(None))
                .values(
                    human_action=action or "none",
                    human_decided_by=decided_by,
                    human_decided_at=_now(now),
                    agreed=(action == row.action),
                )
            )
            settled += int(getattr(result, "rowcount", 0) or 0)
    return settled


def sync_shadow_from_proposals(store: Store, *, now: datetime | None = None) -> int:
    """Settle shadow records from proposals humans decided later on the same case or cluster."""
    decided = {"approved", "executing", "executed", "rejected", "failed"}
    with store.session() as s:
        open_rows = s.scalars(select(ShadowRecordRow).where(ShadowRecordRow.agreed.is_(None))).all()
        pending = [(r.case_id, r.cluster_id) for r in open_rows]
        proposals = s.scalars(select(ProposalRow).where(ProposalRow.status.in_(decided))).all()
    settled = 0
    for case_id, cluster_id in set(pending):
        for p in proposals:
            if (case_id and p.case_id == case_id) or (cluster_id and p.cluster_id == cluster_id):
                action = None if p.status == "rejected" else p.action
                settled += record_human_decision(
                    store,
                    action=action,
                    decided_by=p.decided_by or p.requester_id,
                    case_id=case_id if case_id else None,
                    cluster_id=None if case_id else cluster_id,
                    now=now,
                )
                break
    return settled


class ShadowAgreement(BaseModel):
    policy_id: str
    recorded: int
    decided: int
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.decided if self.decided else None


def shadow_agreement(store: Store, *, since: datetime | None = None) -> list[ShadowAgreement]:
    """Per policy: shadow records, how many humans decided since, and how many matched."""
    with store.session() as s:
        query = select(ShadowRecordRow.policy_id, ShadowRecordRow.agreed)
        if since is not None:
            query = query.where(ShadowRecordRow.created_at >= since)
        rows = s.execute(query).all()
    recorded: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for policy_id, ok in rows:
        recorded[policy_id] += 1
        if ok is not None:
            decided[policy_id] += 1
            agreed[policy_id] += int(bool(ok))
    return [
        ShadowAgreement(policy_id=p, recorded=recorded[p], decided=decided[p], agreed=agreed[p])
        for p in sorted(recorded)
    ]


def list_shadow(
    store: Store, *, policy_id: str | None = None, limit: int = 50
) -> list[ShadowRecord]:
    with store.session() as s:
        query = select(ShadowRecordRow).order_by(ShadowRecordRow.created_at.desc()).limit(limit)
        if policy_id:
            query = query.where(ShadowRecordRow.policy_id == policy_id)
        return [_shadow(r) for r in s.scalars(query)]


# ---- status for App Home and `warden gates` -------------------------------------------------


class GateStatusRow(BaseModel):
    """One line of gate status, as App Home and `warden gates` show it."""

    policy_id: str
    mode: GateMode
    overridden: bool
    min_precision: float
    min_support: int
    max_batch_size: int
    precision: float | None
    support: int | None
    eval_run_id: str | None
    passing: bool
    can_propose: bool
    shadow_recorded: int
    shadow_agreement: float | None

    def summary(self) -> str:
        """One human line, e.g. for a Slack context block."""
        figures = (
            "no evaluation"
            if self.eval_run_id is None or self.precision is None
            else f"precision {self.precision:.2f} on {self.support}"
        )
        agreement = (
            ""
            if self.shadow_agreement is None
            else f", shadow agreement {self.shadow_agreement:.0%}"
        )
        state = "can propose" if self.can_propose else "not proposing"
        return f"{self.policy_id}: {self.mode.value} ({state}; {figures}{agreement})"


def status_rows(
    store: Store, gates: Gates, policy_ids: Sequence[str] | None = None
) -> list[GateStatusRow]:
    """Gate status per policy: mode, thresholds, evaluation figures and shadow agreement."""
    agreement = {a.policy_id: a for a in shadow_agreement(store)}
    with store.session() as s:
        overrides = {r.policy_id: r for r in s.scalars(select(GateModeRow))}
        ids = sorted(set(policy_ids) if policy_ids else set(gates.policies) | set(overrides))
        rows = []
        for pid in ids:
            rule = gates.rule(pid)
            mode = GateMode(overrides[pid].mode) if pid in overrides else rule.mode
            evidence = latest_evidence(s, pid, rule.min_support)
            passing = _passes(rule, evidence)
            shadow = agreement.get(pid)
            rows.append(
                GateStatusRow(
                    policy_id=pid,
                    mode=mode,
                    overridden=pid in overrides,
                    min_precision=rule.min_precision,
                    min_support=rule.min_support,
                    max_batch_size=rule.max_batch_size,
                    precision=evidence.precision if evidence else None,
                    support=evidence.support if evidence else None,
                    eval_run_id=evidence.eval_run_id if evidence else None,
                    passing=passing,
                    can_propose=mode is GateMode.PROPOSE and passing,
                    shadow_recorded=shadow.recorded if shadow else 0,
                    shadow_agreement=shadow.rate if shadow else None,
                )
            )
    return rows
