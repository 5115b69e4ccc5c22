"""Graph state. Values are plain JSON (pydantic dumps) so every checkpointer can store them and a
restarted process reads them back without trusting pickled objects."""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel


class Retrieved(BaseModel):
    """A policy section retrieved for the current turn: the only thing that may be cited."""

    section_id: str
    title: str
    policy_id: str | None
    policy_version: str | None
    source: str
    text: str
    score: float
    approved: bool = True


class InputState(TypedDict):
    """What a caller passes in for one turn."""

    request: dict[str, Any]
    """The `WardenRequest` of this turn (JSON)."""


class State(InputState, total=False):
    """Everything the graph keeps for a turn (and, for proposals, across the approval pause)."""

    intent: str
    """The job this turn runs: ask, recommend, escalate or propose."""

    hits: list[dict[str, Any]]
    """`Retrieved` sections for THIS turn; citations are checked against these only."""

    response: dict[str, Any] | None
    """The `WardenResponse` (JSON) the turn ends with."""

    proposal: dict[str, Any] | None
    """The `Proposal` (JSON) waiting for a decision; its actions are re-read from here on resume."""

    blast_radius: dict[str, Any] | None
    """The `BlastRadius` (JSON) shown to approvers."""

    usage: dict[str, int]
    """Model calls and tokens spent in this turn (`Usage` as JSON)."""

    awaiting: bool
    """True in an approval thread: the run goes straight to the approval interrupt."""

    last_question: str
    """The last policy question asked in this conversation (a bare "escalate" escalates it)."""

    subject: dict[str, Any]
    """What the conversation is about (`agent.memory.Subject`): carried to follow-ups."""

    proposals_opened: list[str]
    """Ids of proposals created in this conversation (kept across turns, for `pending`)."""
