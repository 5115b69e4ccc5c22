"""Buttons on Warden's cards: Apply / Escalate on recommendations, Approve / Reject on proposals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.interface import Intent, WardenRequest
from slackapp.approvals import approve_clicked, audit_refusal, reject_submitted, tell_user
from slackapp.blocks import (
    APPLY,
    APPROVE,
    DECIDE,
    ESCALATE_CASE,
    ESCALATE_QUESTION,
    NOT_VIOLATING,
    REASON_BLOCK,
    REASON_INPUT,
    REJECT,
    REJECT_MODAL,
    CaseRef,
    ProposalRef,
    QuestionRef,
    RejectMeta,
    reject_modal,
)
from slackapp.casework import (
    GROUND_BLOCK,
    GROUND_INPUT,
    NOT_VIOLATING_MODAL,
    ground_submitted,
    open_ground_modal,
    submit_decision,
)
from slackapp.conversation import run_request
from slackapp.runtime import Runtime

if TYPE_CHECKING:
    from slack_bolt import App
from knowledge.vocabulary import ActionType

log = logging.getLogger(__name__)


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    """(channel, message ts, thread ts) of the card that was clicked."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or body["channel"]["id"]
    ts = container.get("message_ts") or message["ts"]
    thread_ts = container.get("thread_ts") or message.get("thread_ts") or ts
    return channel, ts, thread_ts


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], value: str | None) -> M | None:
    try:
        return model.model_validate_json(value or "")
    except ValidationError:
        return None


def _refuse_malformed(
    rt: Runtime, client: Any, body: dict[str, Any], *, verb: str, value: str | None
) -> None:
    """A button or modal whose value is not one Warden made: audited, and the clicker told."""
    user = body["user"]["id"]
    audit_refusal(
        rt,
        actor=user,
        verb=verb,
        subject="proposal:?",
        reason="malformed button value",
        details={"value": (value or "")[:200]},
    )
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    if channel:
        tell_user(client, channel, user, "That button is not one Warden posted; nothing was done.")


def _submit_request(
    rt: Runtime,
    client: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    *,
    ref_model: type[M],
    verb: str,
    job: str,
    build: Callable[[M, str], WardenRequest | None],
) -> None:
    """Parse a card button's value and run the agent request it stands for, after the ack."""
    ref = _parse(ref_model, action.get("value"))
    request = build(ref, body["user"]["id"]) if ref is not None else None
    if request is None:
        rt.pool.submit(
            "refuse", _refuse_malformed, rt, client, body, verb=verb, value=action.get("value")
        )
        return
    channel, _, thread_ts = _where(body)
    rt.pool.submit(job, run_request, rt, client, request, channel=channel, thread_ts=thread_ts)


def _question_escalation(rt: Runtime, ref: QuestionRef, user: str) -> WardenRequest | None:
    """The escalation of a question Warden answered (kept in the ledger by id); None if unknown."""
    asked = rt.ledger.post("question", ref.question_id)
    if asked is None or asked.thread_id != ref.thread_id:
        return None
    return WardenRequest(
        thread_id=ref.thread_id, user_id=user, intent=Intent.ESCALATE, text=asked.payload or ""
    )


def register(app: App, rt: Runtime) -> None:
    @app.block_action(APPLY)
    def apply(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        _submit_request(
            rt,
            client,
            body,
            action,
            ref_model=CaseRef,
            verb="case.apply",
            job="apply",
            build=lambda ref, user: WardenRequest(
                thread_id=ref.thread_id,
                user_id=user,
                intent=Intent.PROPOSE,
                case_id=ref.case_id,
                action=ActionType(ref.action) if ref.action else None,
            ),
        )

    @app.block_action(DECIDE)
    def decide(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        submit_decision(rt, client, body, action)

    @app.block_action(NOT_VIOLATING)
    def not_violating(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        open_ground_modal(rt, client, body, action)

    @app.view_submission(NOT_VIOLATING_MODAL)
    def not_violating_ground(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any
    ) -> None:
        typed = view["state"]["values"].get(GROUND_BLOCK, {}).get(GROUND_INPUT, {}).get("value")
        if len((typed or "").strip()) < 3:
            ack(response_action="errors", errors={GROUND_BLOCK: "Say why, in a few words."})
            return
        ack()
        rt.pool.submit(
            "not violating", ground_submitted, rt, client, user=body["user"]["id"], view=view
        )

    @app.block_action(ESCALATE_CASE)
    def escalate_case(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        _submit_request(
            rt,
            client,
            body,
            action,
            ref_model=CaseRef,
            verb="case.escalate",
            job="escalate",
            build=lambda ref, user: WardenRequest(
                thread_id=ref.thread_id, user_id=user, intent=Intent.ESCALATE, case_id=ref.case_id
            ),
        )

    @app.block_action(ESCALATE_QUESTION)
    def escalate_question(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        ack()
        _submit_request(
            rt,
            client,
            body,
            action,
            ref_model=QuestionRef,
            verb="question.escalate",
            job="escalate",
            build=lambda ref, user: _question_escalation(rt, ref, user),
        )

    @app.block_action(APPROVE)
    def approve(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        ref = _parse(ProposalRef, action.get("value"))
        if ref is None:
            rt.pool.submit(
                "refuse",
                _refuse_malformed,
                rt,
                client,
                body,
                verb="proposal.approve",
                value=action.get("value"),
            )
            return
        channel, ts, _ = _where(body)
        rt.pool.submit(
            "approve",
            approve_clicked,
            rt,
            client,
            user=body["user"]["id"],
            ref=ref,
            channel=channel,
            message_ts=ts,
        )

    @app.block_action(REJECT)
    def reject(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        ref = _parse(ProposalRef, action.get("value"))
        if ref is None:
            rt.pool.submit(
                "refuse",
                _refuse_malformed,
                rt,
                client,
                body,
                verb="proposal.reject",
                value=action.get("value"),
            )
            return
        channel, ts, _ = _where(body)
        posted = rt.ledger.post("proposal", ref.proposal_id)
        if posted is None or (posted.channel, posted.ts, posted.thread_id) != (
            channel,
            ts,
            ref.thread_id,
        ):
            # Not this proposal's card: refused (and audited) without opening the modal.
            rt.pool.submit(
                "reject",
                reject_submitted,
                rt,
                client,
                user=body["user"]["id"],
                ref=ref,
                reason="",
                channel=channel,
                message_ts=ts,
            )
            return
        meta = RejectMeta(**ref.model_dump(), channel=posted.channel, message_ts=posted.ts)
        # The trigger id expires 3 s after the click, so the modal opens here, not in the pool.
        client.views_open(trigger_id=body["trigger_id"], view=reject_modal(meta))

    @app.view_submission(REJECT_MODAL)
    def reject_reason(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        value = view["state"]["values"].get(REASON_BLOCK, {}).get(REASON_INPUT, {}).get("value")
        reason = (value or "").strip()
        if len(reason) < 3:
            ack(response_action="errors", errors={REASON_BLOCK: "Say why, in a few words."})
            return
        meta = _parse(RejectMeta, view.get("private_metadata"))
        if meta is None:
            ack()
            rt.pool.submit(
                "refuse",
                _refuse_malformed,
                rt,
                client,
                body,
                verb="proposal.reject",
                value=view.get("private_metadata"),
            )
            return
        ack()
        ref = ProposalRef(
            proposal_id=meta.proposal_id, action_hash=meta.action_hash, thread_id=meta.thread_id
        )
        rt.pool.submit(
            "reject",
            reject_submitted,
            rt,
            client,
            user=body["user"]["id"],
            ref=ref,
            reason=reason,
            channel=meta.channel,
            message_ts=meta.message_ts,
        )
