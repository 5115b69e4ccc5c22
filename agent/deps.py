"""What the graph's nodes depend on, as narrow protocols, and the bundle the factory passes them.

The nodes never build a client: `build_graph` receives the chat model, retriever, catalogue and
enforcement back end (`agent.backend.ToolsBackend` over the store in production) and hands them
to every node through one `Deps` value, so tests swap any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from knowledge.vocabulary import ActionType
from tools.models import (
    BlastRadius,
    Case,
    Escalation,
    FanoutProgress,
    PlannedAction,
    Proposal,
    StrikeEffect,
)

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from knowledge.catalogue import Catalogue


class HitLike(Protocol):
    """A retrieved chunk (`knowledge.retrieval.Hit`)."""

    @property
    def section_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def policy_id(self) -> str | None: ...
    @property
    def policy_version(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def approved(self) -> bool: ...


class RetrieverLike(Protocol):
    """`knowledge.retrieval.Retriever`."""

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        policy: str | None = None,
        version: str | None = None,
        approved_only: bool = True,
    ) -> Sequence[HitLike]: ...


class ClusterLike(Protocol):
    """A detector cluster (`tools.store.Cluster`)."""

    @property
    def id(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def section_id(self) -> str: ...
    @property
    def detector(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def content_ids(self) -> list[str]: ...


@dataclass(frozen=True)
class GateVerdict:
    """An automation gate's answer for one proposal (`tools.gates.check`)."""

    allowed: bool
    record_shadow: bool
    reason: str


@dataclass(frozen=True)
class FanoutSummary:
    status: str
    applied: int
    failed: int
    message: str = ""


class Backend(Protocol):
    """The enforcement back end as the agent uses it; every rule lives behind it in `tools/`."""

    def get_case(self, case_id: str) -> Case: ...
    def get_cluster(self, cluster_id: str) -> ClusterLike: ...
    def preview_strikes(self, actions: list[PlannedAction]) -> list[StrikeEffect]: ...
    def gate(self, policy_id: str, batch_size: int) -> GateVerdict | None: ...
    def record_shadow(
        self,
        *,
        policy_id: str,
        section_ids: list[str],
        action: ActionType,
        target_ids: list[str],
        requester_id: str,
        case_id: str | None,
        cluster_id: str | None,
    ) -> None: ...
    def create_proposal(
        self,
        *,
        policy_id: str,
        section_ids: list[str],
        action: ActionType,
        requester_id: str,
        case_id: str | None,
        cluster_id: str | None,
        evidence: list[str],
        model: str | None,
        prompt_id: str | None,
    ) -> tuple[Proposal, BlastRadius]:
        """Create a pending proposal on EVERY item (or author) of the case or cluster."""
        ...

    def get_proposal(self, proposal_id: str) -> Proposal: ...
    def expire_due(self, now: datetime) -> None: ...
    def execute(
        self, proposal_id: str, progress: Callable[[FanoutProgress], None] | None
    ) -> FanoutSummary: ...
    def open_escalation(
        self,
        *,
        case_id: str | None,
        policy_id: str,
        section_ids: list[str],
        summary: str,
        opened_by: str,
        imminent: bool,
        model: str | None,
        prompt_id: str | None,
    ) -> Escalation: ...


@dataclass(frozen=True)
class Deps:
    """Everything the nodes use, built once by the factory."""

    retriever: RetrieverLike
    catalogue: Catalogue
    backend: Backend
    model: BaseChatModel | None = None
    vision: bool = False
    min_score: float = 0.30
    """Below this top retrieval score an answer is flagged low-confidence (retriever's scale)."""
