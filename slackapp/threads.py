"""Threads Warden has answered are conversations: what each is about, and follow-ups in them.

When Warden answers in a thread it records the thread's subject (the case or the question) in
the ledger, so every replica knows the thread. A reply there reaches Warden without a mention;
"escalate" on its own escalates the thread's subject with the same thread id.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ValidationError

from agent.interface import Intent, WardenRequest
from slackapp.ledger import Post
from slackapp.runtime import Runtime

THREAD = "thread"
_ID_LIKE = re.compile(r"[\w.:-]*[\d_-][\w.:-]*")
_ESCALATE = re.compile(
    r"^\s*(?:<@[A-Z0-9]+>\s*)?(?:please\s+)?escalate\b[\s,:.!-]*(?P<rest>.*)$", re.I | re.S
)


class Subject(BaseModel):
    """What a thread is about: the case it recommends on, or the question it answers."""

    case_id: str | None = None
    question: str = ""


def remember(rt: Runtime, *, channel: str, thread_ts: str, subject: Subject) -> None:
    """Record that Warden answered in this thread (the first subject stays the thread's)."""
    thread_id = f"{channel}:{thread_ts}"
    rt.ledger.remember_post(
        THREAD, thread_id, Post(channel, thread_ts, thread_id, subject.model_dump_json())
    )


def subject_of(rt: Runtime, *, channel: str, thread_ts: str) -> Subject | None:
    """The subject of a thread Warden answered in, or None if Warden is not part of it."""
    post = rt.ledger.post(THREAD, f"{channel}:{thread_ts}")
    if post is None:
        return None
    try:
        return Subject.model_validate_json(post.payload or "{}")
    except ValidationError:
        return Subject()


def escalate_followup(
    text: str, subject: Subject | None, *, thread_id: str, user_id: str
) -> WardenRequest | None:
    """ "escalate" (with no case id) in a thread with a subject: escalate that subject."""
    found = _ESCALATE.match(text or "")
    if found is None or subject is None:
        return None
    rest = found.group("rest").strip()
    first = rest.split(" ", 1)[0] if rest else ""
    if first and _ID_LIKE.fullmatch(first):
        return None  # "escalate C-1001 ...": an explicit id, the normal command handles it
    if subject.case_id:
        return WardenRequest(
            thread_id=thread_id,
            user_id=user_id,
            intent=Intent.ESCALATE,
            case_id=subject.case_id,
            text=rest,
        )
    question = subject.question + (f"\n{rest}" if rest else "")
    if not question.strip():
        return None
    return WardenRequest(
        thread_id=thread_id, user_id=user_id, intent=Intent.ESCALATE, text=question
    )
