"""Domain models of the enforcement back end; every boundary of `tools/` speaks these."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from knowledge.vocabulary import ActionType, Priority, RestrictionType

# Ids address stored rows: never empty, no control characters (NUL breaks Postgres text), no
# longer than the id columns (128: a longer id was a database error on Postgres).
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _utc_representable(value: datetime) -> datetime:
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC") from None
    return value


# Stored as UTC: a time whose offset pushes it outside year 1..9999 is refused, not a crash.
Timestamp = Annotated[datetime, AfterValidator(_utc_representable)]
# Classifier scores are probabilities; a score outside 0..1 would meet every threshold.
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("contains a NUL byte")
    return value


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContentType(StrEnum):
    """What a content item is, in the EU DSA Transparency Database's terms."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    PRODUCT = "product"
    SYNTHETIC_MEDIA = "synthetic_media"
    APP = "app"
    OTHER = "other"


class ContentItem(Frozen):
    """One piece of content under review: untrusted, never instructions."""

    id: Id
    kind: Literal["pin", "comment", "board", "profile", "message", "ad", "listing"] = "pin"
    author_id: Id
    text: str | None = None
    media_url: str | None = None
    media_description: str | None = None
    created_at: Timestamp | None = Field(None, description="when the content was posted")
    content_type: list[ContentType] | None = Field(
        None, description="what the item is (None: derived from its kind and media)"
    )

    _text_has_no_nul = field_validator("text", "media_url", "media_description")(_no_nul)


class UserReport(Frozen):
    reporter_id: Id
    reason: str
    created_at: Timestamp | None = None

    _reason_has_no_nul = field_validator("reason")(_no_nul)


class CaseStatus(StrEnum):
    """A case's place in its lifecycle: new -> in_review -> decided -> actioned -> closed.

    `escalated` waits on an escalation; `appealed` is a closed case whose decision the affected
    account appealed (it closes again when the appeal is decided).
    """

    NEW = "new"
    IN_REVIEW = "in_review"
    DECIDED = "decided"
    ACTIONED = "actioned"
    CLOSED = "closed"
    ESCALATED = "escalated"
    APPEALED = "appealed"


class CaseSource(StrEnum):
    """How a case reached Warden (decides the DSA `source_type` and automated detection)."""

    USER_REPORT = "user_report"  # a notice from a user (DSA Art. 16)
    TRUSTED_FLAGGER = "trusted_flagger"  # a notice from a trusted flagger (DSA Art. 22)
    OTHER_NOTIFICATION = "other_notification"  # e.g. an authority's order
    CLASSIFIER = "classifier"  # an upstream classifier flagged it (own initiative)
    DETECTOR = "detector"  # a detector cluster (hash match, similarity)
    PROACTIVE = "proactive"  # a specialist found it (own initiative)
    EVALUATION = "evaluation"  # a labelled evaluation row, never enforced


class Case(Frozen):
    """A moderation case: content, who posted it, who reported it, what detectors said.

    This is what the platform submits (a line of `warden cases import`, the body of
    `POST /api/v1/cases`); the workflow around it (queue, claim, decision) is kept beside it.
    """

    id: Id
    opened_at: Timestamp
    items: list[ContentItem] = Field(min_length=1)
    reports: list[UserReport] = Field(default_factory=list)
    signals: dict[str, Score] = Field(default_factory=dict, description="classifier -> score")
    source: CaseSource = CaseSource.USER_REPORT
    status: CaseStatus = CaseStatus.NEW
    vendor_team: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="BPO team that handled it, if any",
    )
    policy_id: str | None = Field(
        None,
        pattern=r"^[A-Z]{2,4}$",
        description="the policy the report or detector names, if any (routes the case's queue)",
    )
    territorial_scope: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] | None = (
        Field(None, description="ISO country codes the decision applies in (None: the setting)")
    )
    language: str | None = Field(
        None, pattern=r"^[a-z]{2}$", description="ISO 639-1 language of the content, if known"
    )

    @property
    def account_ids(self) -> list[str]:
        return sorted({item.author_id for item in self.items})

    @property
    def content_ids(self) -> list[str]:
        return [item.id for item in self.items]


class AccountStatus(StrEnum):
    ACTIVE = "active"
    LIMITED = "limited"  # an active limit_distribution restriction
    SUSPENDED = "suspended"


class Strike(Frozen):
    id: str
    account_id: str
    policy_id: str
    section_id: str
    weight: int = 1
    issued_at: datetime
    expires_at: datetime
    source_action_key: str | None = None
    overturned: bool = False


class Account(Frozen):
    id: str
    handle: str
    created_at: datetime | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    strikes: list[Strike] = Field(default_factory=list)


class PlannedAction(Frozen):
    """One action on one target, as it will be applied."""

    target_type: Literal["content", "account"]
    target_id: str
    action: ActionType
    section_id: str

    @property
    def key(self) -> str:
        return f"{self.target_type}:{self.target_id}:{self.action.value}"


def action_list_hash(actions: list[PlannedAction]) -> str:
    """Hash the exact action list; an approval is bound to it."""
    canonical = json.dumps(
        [a.model_dump(mode="json") for a in actions], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"


class Approval(Frozen):
    approver_id: str
    decided_at: datetime
    action_hash: str


class Proposal(Frozen):
    """A bulk or automated action waiting for human approval."""

    id: str
    policy_id: str
    policy_version: str
    section_ids: list[str]
    action: ActionType
    actions: list[PlannedAction]
    evidence: list[str] = Field(default_factory=list)
    requester_id: str
    approvals: list[Approval] = Field(default_factory=list)
    required_approvals: int = 1
    status: ProposalStatus = ProposalStatus.PENDING
    created_at: datetime
    expires_at: datetime
    action_hash: str
    case_id: str | None = None
    cluster_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None  # when the final decision was recorded
    reject_reason: str | None = None
    origin: Literal["automated", "decision", "qa"] = Field(
        "automated",
        description="decision: a specialist's own case decision (no gate applies); qa: the "
        "reversal a QA reviewer's disagreement opened",
    )
    reverses: str | None = Field(
        None, description="the proposal whose applied actions this one reverses (origin qa)"
    )


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Escalation(Frozen):
    id: str
    case_id: str | None
    policy_id: str | None
    section_ids: list[str] = Field(default_factory=list)
    priority: Priority
    pod: str
    channel: str
    on_call: bool = False
    owner_id: str | None = None
    opened_by: str
    status: EscalationStatus = EscalationStatus.OPEN
    opened_at: datetime
    sla_due_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    summary: str
    slack_channel: str | None = None
    slack_ts: str | None = None
    reminded_at: datetime | None = None


class AuditEvent(Frozen):
    """One row of the append-only, hash-chained audit log."""

    seq: int
    at: datetime
    actor: str
    verb: str
    subject: str
    source: str
    outcome: str
    policy_id: str | None = None
    section_id: str | None = None
    policy_version: str | None = None
    proposal_hash: str | None = None
    model: str | None = None
    prompt_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class DecisionAutomation(StrEnum):
    """How far a decision was taken by automated means (the DSA's three answers)."""

    FULLY = "fully"  # no person decided it
    PARTIALLY = "partially"  # automation proposed or followed a rule; people approved
    NOT_AUTOMATED = "not_automated"  # a specialist's own decision


def decision_automation(value: object) -> object:
    """Accept the older yes/no form: True meant taken by automated means, False by a person."""
    if isinstance(value, bool):
        return DecisionAutomation.FULLY if value else DecisionAutomation.NOT_AUTOMATED
    return value


class StatementOfReasons(Frozen):
    """What the affected user is told (EU DSA Article 17(3)), with what the Transparency
    Database needs to file it (`tools.dsa`); the context fields are None on statements issued
    before they were recorded."""

    id: str
    action_key: str
    account_id: str
    content_id: str | None
    issued_at: datetime
    restriction: str
    scope: str
    duration: str
    facts: str
    automated_detection: bool
    automated_decision: DecisionAutomation
    policy_ground: str
    policy_explanation: str
    policy_version: str
    redress: list[str]
    section_id: str | None = None
    action: ActionType | None = None
    target_type: Literal["content", "account"] | None = None
    ends_at: datetime | None = Field(None, description="when a temporary restriction ends")
    source: CaseSource | None = Field(None, description="how the case came in (None: own work)")
    case_id: str | None = None
    content_date: date | None = Field(None, description="when the content was posted")
    content_type: list[ContentType] = Field(default_factory=list)
    territorial_scope: list[str] = Field(default_factory=list)
    language: str | None = None

    _automation = field_validator("automated_decision", mode="before")(decision_automation)


class StrikeEffect(Frozen):
    """What an action would do to one account's strike standing (computed, never guessed)."""

    account_id: str
    active_before: int
    added: int
    active_after: int
    window_days: int
    threshold_crossed: RestrictionType | None = Field(
        None, description="the account restriction the new total triggers, e.g. suspend"
    )
    restriction_days: int | None = Field(
        None, description="how long that restriction lasts (None with a restriction: until lifted)"
    )


class BlastRadius(Frozen):
    """Everything an approver should see before approving a proposal."""

    total_actions: int
    content_count: int
    account_count: int
    sample: list[PlannedAction]
    sample_texts: dict[str, str] = Field(default_factory=dict, description="target id -> excerpt")
    strike_effects: list[StrikeEffect] = Field(default_factory=list)
    section_ids: list[str] = Field(default_factory=list)

    @property
    def accounts_crossing(self) -> list[StrikeEffect]:
        return [e for e in self.strike_effects if e.threshold_crossed is not None]


class FanoutProgress(Frozen):
    """Reported by the fanout after each batch (the Slack app shows it)."""

    proposal_id: str
    total: int
    applied: int
    failed: int
    done: bool = False
