"""What the model is asked to return (JSON schemas). Loosely typed on purpose: a bad value becomes
a validation problem the graph reports and repairs, not an exception."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RouteDraft(BaseModel):
    """The router's reply: which of the four jobs, and ids copied from the message."""

    intent: str = Field(description="ask | recommend | escalate | propose")
    case_id: str | None = None
    cluster_id: str | None = None


class AnswerDraft(BaseModel):
    """A policy answer with the section ids it relies on."""

    answer: str = Field(description="at most 120 words, ids cited inline like [HA-2.1]")
    cited_section_ids: list[str] = Field(default_factory=list)
    grounded: bool = Field(True, description="false when the sections do not answer it")


class RecommendationDraft(BaseModel):
    """An enforcement recommendation, before it is checked against the catalogue."""

    # Extra keys (e.g. a model adding "targets") are ignored: targets never come from the model.
    model_config = ConfigDict(extra="ignore")

    policy_id: str | None = None
    section_ids: list[str] = Field(default_factory=list)
    verdict: str = Field(description="violating | not_violating | borderline")
    action: str | None = Field(None, description="one of the chosen section's listed actions")
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str
    escalate: bool = False
