"""A thread is a conversation: the subject under discussion is carried to follow-ups.

After `recommend case-1005`, "what if the poster says it's a joke?" is about case-1005's content;
after a policy question, "and under GV?" asks the same question of Graphic Violence; a bare
"escalate" escalates the case (or the question) the thread is about. The subject is kept in the
graph's state (checkpointed with the thread) with the specialist's recent messages. With a
model, a follow-up is rewritten into a standalone question by one small structured call (the
case's content goes in marked as untrusted data, and the rewrite is told to describe it, not
copy it); without a model, or when the rewrite cannot be used, the follow-up's retrieval query
is the follow-up plus the subject.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.interface import Usage
from agent.llm import structured_call
from agent.prompts import REWRITE_SYSTEM
from agent.schemas import rewrite_schema
from agent.untrusted import mark_untrusted, sanitize
from knowledge.catalogue import Catalogue

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|so|then|also|what if|what about|how about|and if|and under|under|same|"
    r"in that case|ok and|okay and)\b",
    re.I,
)
_POINTING = re.compile(r"\b(it|this|that|they|them|the poster|the post|the case|same)\b", re.I)
_POLICY_ID = re.compile(r"\b([A-Z]{2,4})\b")
FOLLOW_UP_WORDS = 12
RECENT_MESSAGES = 4
REWRITE_WORDS = 60
# LangGraph does not stream the tokens of a run tagged so: the rewrite is not the answer.
NOSTREAM = "nostream"


class Subject(BaseModel):
    """What the conversation is about: a case, a question, and the policy last discussed."""

    case_id: str | None = None
    question: str | None = None
    text: str | None = None
    """The case's content (a query, never an instruction) or the question's words."""
    policy_id: str | None = None
    recent: list[str] = Field(default_factory=list)
    """The specialist's last messages in this thread, oldest first."""

    def said(self, text: str) -> Subject:
        """This subject with `text` as the specialist's latest message."""
        recent = [*self.recent, sanitize(text).strip()[:300]][-RECENT_MESSAGES:]
        return self.model_copy(update={"recent": recent})


class Rewritten(BaseModel):
    question: str


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


def rewrite_messages(text: str, subject: Subject) -> list[Any]:
    """The rewrite prompt: the conversation (case content marked as data) and the follow-up."""
    parts = ["# Conversation so far"]
    if subject.case_id:
        parts.append(f"The thread is about case {subject.case_id}. Its content:")
        parts.append(mark_untrusted(subject.text or "", label="case content"))
    elif subject.question:
        parts.append(f"The question under discussion: {sanitize(subject.question)[:600]}")
    if subject.policy_id:
        parts.append(f"Policy last discussed: {subject.policy_id}")
    if subject.recent:
        parts.append(
            "The specialist's recent messages:\n" + "\n".join(f"- {m}" for m in subject.recent)
        )
    parts.append(f"# Follow-up\n{sanitize(text).strip()[:600]}")
    return [SystemMessage(REWRITE_SYSTEM), HumanMessage("\n\n".join(parts))]


def rewrite(model: BaseChatModel, text: str, subject: Subject) -> tuple[str | None, Usage]:
    """The follow-up as a standalone question written by the model; None when unusable."""
    reply = structured_call(
        model,
        Rewritten,
        rewrite_messages(text, subject),
        name="rewrite_query",
        json_schema=rewrite_schema(),
        tags=[NOSTREAM],
    )
    question = sanitize(reply.parsed.question).strip() if reply.parsed is not None else ""
    if not question or len(question.split()) > REWRITE_WORDS or "<<<" in question:
        return None, reply.usage
    return question, reply.usage
