"""Answers are recorded where they were posted (with prompt version and model), so a thumbs
up / down on one is stored against it and counts in the quality KPIs (tools/feedback.py)."""

from __future__ import annotations

import logging
from typing import Any

from agent.interface import PolicyAnswer, Recommendation, WardenRequest
from slackapp.runtime import Runtime

log = logging.getLogger(__name__)


def record_answer(
    rt: Runtime, response: Any, request: WardenRequest, *, channel: str, ts: str
) -> None:
    """Record an answer or recommendation just posted (other replies get no feedback)."""
    if not isinstance(response, PolicyAnswer | Recommendation):
        return
    from tools.feedback import record_answer as record

    # Issue 12 adds prompt_version and model to responses; until then they read as unknown.
    policy = response.policy_id if isinstance(response, Recommendation) else None
    if policy is None and isinstance(response, PolicyAnswer) and response.citations:
        policy = response.citations[0].policy_id
    try:
        record(
            rt.store,
            where=f"{channel}:{ts}",
            kind=response.kind,
            user_id=request.user_id,
            thread_id=request.thread_id,
            prompt_version=getattr(response, "prompt_version", None),
            model=getattr(response, "model", None),
            policy_id=policy,
            now=rt.clock(),
        )
    except Exception as exc:  # feedback is a nicety; the answer is already out
        log.warning("answer at %s:%s not recorded for feedback: %s", channel, ts, exc)


def feedback_clicked(
    rt: Runtime, client: Any, *, user: str, channel: str, ts: str, positive: bool
) -> None:
    from slackapp.approvals import tell_user
    from tools.feedback import record_feedback
    from warden.errors import WardenError

    try:
        record_feedback(
            rt.store, where=f"{channel}:{ts}", user_id=user, positive=positive, now=rt.clock()
        )
    except WardenError as exc:
        tell_user(client, channel, user, str(exc))
        return
    thanks = "Thanks: noted as helpful." if positive else "Thanks: noted as not helpful."
    tell_user(client, channel, user, thanks + " It counts in Warden's quality figures.")
