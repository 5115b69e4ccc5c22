"""The one entry point's request and response types (no LLM or graph imports here)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.prompts import PROMPT_VERSION
from knowledge.vocabulary import ActionType
from tools.models import BlastRadius, Escalation, Proposal, ProposalStatus, StrikeEffect


class Intent(StrEnum):
    ASK = "ask"
    RECOMMEND = "recommend"
    ESCALATE = "escalate"
    PROPOSE = "propose"


class WardenRequest(BaseModel):
    """A specialist's request. A Slack command sets `intent`; free text leaves it to the router."""

    model_config = ConfigDict(frozen=True)

    thread_id: str = Field(description="one conversation = one thread (Slack channel:thread_ts)")
    user_id: str
    text: str = ""
    intent: Intent | None = None
    case_id: str | None = None
    cluster_id: str | None = Field(None, description="detector cluster for a bulk proposal")
    action: ActionType | None = Field(None, description="requested action for a proposal")


class Citation(BaseModel):
    section_id: str
    title: str
    policy_id: str
    policy_version: str
    source: str
    excerpt: str


class Usage(BaseModel):
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class PolicyAnswer(BaseModel):
    kind: Literal["answer"] = "answer"
    text: str
    citations: list[Citation]
    mode: Literal["llm", "excerpts"]
    low_confidence: bool = False
    offer_escalation: bool = False
    removed_citations: list[str] = Field(
        default_factory=list, description="ids the model cited that were not retrieved (flagged)"
    )
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str = Field(PROMPT_VERSION, description="prompts this answer was made with")
    model: str | None = Field(None, description="the chat model configured (None: no-LLM mode)")


class Recommendation(BaseModel):
    kind: Literal["recommendation"] = "recommendation"
    case_id: str
    policy_id: str | None
    policy_version: str | None
    section_ids: list[str]
    verdict: Literal["violating", "not_violating", "borderline"]
    severity: str | None
    action: ActionType | None
    strike_effects: list[StrikeEffect] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str
    citations: list[Citation]
    escalate: bool = False
    mode: Literal["llm", "rules"]
    note: str | None = Field(None, description="visible note, e.g. fell back to rules")
    removed_citations: list[str] = Field(
        default_factory=list, description="ids the model cited that were not retrieved (flagged)"
    )
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str = Field(PROMPT_VERSION, description="prompts this answer was made with")
    model: str | None = Field(None, description="the chat model configured (None: no-LLM mode)")


class EscalationOpened(BaseModel):
    kind: Literal["escalation"] = "escalation"
    escalation: Escalation
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str = Field(PROMPT_VERSION, description="prompts this answer was made with")
    model: str | None = Field(None, description="the chat model configured (None: no-LLM mode)")


class ProposalPending(BaseModel):
    """The graph is paused at an interrupt, waiting for an authorised decision."""

    kind: Literal["proposal"] = "proposal"
    proposal: Proposal
    blast_radius: BlastRadius
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str = Field(PROMPT_VERSION, description="prompts this answer was made with")
    model: str | None = Field(None, description="the chat model configured (None: no-LLM mode)")


class ProposalOutcome(BaseModel):
    kind: Literal["proposal_outcome"] = "proposal_outcome"
    proposal_id: str
    status: ProposalStatus
    applied: int = 0
    failed: int = 0
    message: str = ""
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str = Field(PROMPT_VERSION, description="prompts this answer was made with")
    model: str | None = Field(None, description="the chat model configured (None: no-LLM mode)")


class Refusal(BaseModel):
    """The request could not be served (unknown case, gate closed, ...): say why."""

    kind: Literal["refusal"] = "refusal"
    reason: str
    usage: Usage = Field(default_factory=Usage)
    prompt_version: str = Field(PROMPT_VERSION, description="prompts this answer was made with")
    model: str | None = Field(None, description="the chat model configured (None: no-LLM mode)")


WardenResponse = Annotated[
    PolicyAnswer | Recommendation | EscalationOpened | ProposalPending | ProposalOutcome | Refusal,
    Field(discriminator="kind"),
]


class Decision(BaseModel):
    """The resume value: a decision the caller has already authorised. Never carries actions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proposal_id: str
    decision: Literal["approve", "reject", "expire"]
    decided_by: list[str] = Field(default_factory=list)
    reason: str | None = None
