"""A thread is a conversation: the subject under discussion is carried to follow-ups.

After `recommend case-1005`, "what if the poster says it's a joke?" is about case-1005's content;
after a policy question, "and under GV?" asks the same question of Graphic Violence; a bare
"escalate" escalates the case (or the question) the thread is about. The subject is kept in the
graph's state (checkpointed with the thread); without a model it is carried as it is, and the
follow-up's retrieval query is the follow-up plus the subject.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from knowledge.catalogue import Catalogue

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|so|then|also|what if|what about|how about|and if|and under|under|same|"
    r"in that case|ok and|okay and)\b",
    re.I,
)
_POINTING = re.compile(r"\b(it|this|that|they|them|the poster|the post|the case|same)\b", re.I)
_POLICY_ID = re.compile(r"\b([A-Z]{2,4})\b")
FOLLOW_UP_WORDS = 12


class Subject(BaseModel):
    """What the conversation is about: a case, a question, and the policy last discussed."""

    case_id: str | None = None
    question: str | None = None
    text: str | None = None
    """The case's content (a query, never an instruction) or the question's words."""
    policy_id: str | None = None


def is_follow_up(text: str) -> bool:
    """A short message that leans on what came before ("and under GV?", "what if ... it ...")."""
    words = text.split()
    if not words or len(words) > FOLLOW_UP_WORDS:
        return False
    return bool(_FOLLOW_UP_START.search(text) or _POINTING.search(text))


def mentioned_policy(text: str, catalogue: Catalogue) -> str | None:
    """A policy id named in the message (`GV`, `HA`), when the catalogue knows it."""
    for token in _POLICY_ID.findall(text):
        try:
            catalogue.policy(str(token))
        except Exception:  # not a policy id (an acronym like "DM")
            continue
        return str(token)
    return None


def load(state: dict[str, Any] | Any) -> Subject | None:
    raw = state.get("subject") if isinstance(state, dict) else None
    return Subject.model_validate(raw) if raw else None


def follow_up_query(text: str, subject: Subject) -> str:
    """The follow-up as a standalone query: its own words plus the subject's."""
    about = subject.text or subject.question or ""
    return f"{text.strip()} — about: {about}".strip()[:600]
