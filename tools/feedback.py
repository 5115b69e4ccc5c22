"""Feedback on Warden's answers: each answer is recorded with its prompt version and model, and
each thumbs up / down is recorded against it, so quality can be compared across prompts.

Both live in the audit log (subject `answer:<where>`): what Warden told people is part of its
record, and the feedback then counts in the quality KPIs (`feedback_stats`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel

from tools import audit
from tools.models import AuditEvent
from tools.store import Store, utc
from warden.errors import NotFoundError


class FeedbackRow(BaseModel):
    """Feedback for one prompt version and model."""

    prompt_version: str
    model: str
    good: int
    bad: int

    @property
    def rate(self) -> float | None:
        total = self.good + self.bad
        return self.good / total if total else None


class FeedbackStats(BaseModel):
    answers: int = 0
    good: int = 0
    bad: int = 0
    by_prompt: list[FeedbackRow] = []

    @property
    def rate(self) -> float | None:
        total = self.good + self.bad
        return self.good / total if total else None


def record_answer(
    store: Store,
    *,
    where: str,
    kind: str,
    user_id: str,
    thread_id: str,
    prompt_version: str | None,
    model: str | None,
    policy_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record an answer or recommendation Warden posted (`where` names the message)."""
    audit.record(
        store,
        actor="warden",
        verb="answer.posted",
        subject=f"answer:{where}",
        source="slack",
        outcome=kind,
        policy_id=policy_id,
        model=model,
        prompt_id=prompt_version,
        details={"user_id": user_id, "thread_id": thread_id},
        at=now,
    )


def record_feedback(
    store: Store, *, where: str, user_id: str, positive: bool, now: datetime | None = None
) -> None:
    """Record one person's thumbs up / down on an answer Warden recorded."""
    posted = audit.events(store, subject=f"answer:{where}", verb="answer.posted")
    if not posted:
        raise NotFoundError("That answer is not one Warden recorded; no feedback was stored.")
    answer = posted[0]
    audit.record(
        store,
        actor=user_id,
        verb="answer.feedback",
        subject=f"answer:{where}",
        source="slack",
        outcome="good" if positive else "bad",
        policy_id=answer.policy_id,
        model=answer.model,
        prompt_id=answer.prompt_id,
        details={"kind": answer.outcome},
        at=now,
    )


def feedback_stats(store: Store, *, since: datetime, until: datetime) -> FeedbackStats:
    """Answers posted and their feedback in [since, until), per prompt version and model.

    A person's latest feedback on an answer counts (changing one's mind is not two votes).
    """
    since, until = utc(since), utc(until)

    def within(at: datetime) -> bool:
        return since <= utc(at) < until

    answers = sum(1 for e in audit.events(store, verb="answer.posted") if within(e.at))
    latest: dict[tuple[str, str], AuditEvent] = {}
    for e in audit.events(store, verb="answer.feedback"):
        if within(e.at):
            latest[(e.subject, e.actor)] = e
    counts: Counter[tuple[str, str, str]] = Counter(
        (e.prompt_id or "unknown", e.model or "none", e.outcome) for e in latest.values()
    )
    keys = sorted({(p, m) for p, m, _ in counts})
    rows = [
        FeedbackRow(
            prompt_version=p, model=m, good=counts[(p, m, "good")], bad=counts[(p, m, "bad")]
        )
        for p, m in keys
    ]
    return FeedbackStats(
        answers=answers,
        good=sum(r.good for r in rows),
        bad=sum(r.bad for r in rows),
        by_prompt=rows,
    )
