"""Triage on escalation cards: Take, Assign, Acknowledge, Change priority, Add note, Resolve,
Reopen. Each click is acknowledged at once; the step runs in the pool (slackapp/triage.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from slackapp.approvals import audit_refusal, tell_user
from slackapp.escape import escape_untrusted
from slackapp.runtime import Runtime
from slackapp.triage import (
    ESC_ACK,
    ESC_ASSIGN,
    ESC_NOTE,
    ESC_PRIORITY,
    ESC_REOPEN,
    ESC_RESOLVE,
    ESC_TAKE,
    GAP_BLOCK,
    GAP_INPUT,
    NOTE_BLOCK,
    NOTE_INPUT,
    NOTE_MODAL,
    OUTCOME_BLOCK,
    OUTCOME_INPUT,
    REMEDIATION_BLOCK,
    REMEDIATION_INPUT,
    RESOLVE_MODAL,
    CardMeta,
    EscalationRef,
    note_modal,
    resolve_modal,
    run_step,
)

if TYPE_CHECKING:
    from slack_bolt import App


def _answerer(client: Any, body: dict[str, Any], user: str, channel: str | None) -> Any:
    """How to tell the clicker something: ephemeral in the card's channel, else a DM."""

    def answer(text: str) -> None:
        if channel:
            tell_user(client, channel, user, text)
        else:
            from slackapp.blocks import section
            from slackapp.triage import dm

            dm(client, user, text, [section(escape_untrusted(text, limit=2900))])

    return answer


def _ticket(rt: Runtime, body: dict[str, Any], action: dict[str, Any]) -> str | None:
    """The escalation a click is about: the card it sits on, cross-checked with the button."""
    from tools.escalations import at_slack_message

    container = body.get("container") or {}
    on_card = None
    if container.get("type") == "message" and container.get("channel_id"):
        on_card = at_slack_message(
            rt.store, channel=str(container["channel_id"]), ts=str(container.get("message_ts"))
        )
    claimed = None
    if action.get("value"):
        try:
            claimed = EscalationRef.model_validate_json(action["value"]).escalation_id
        except ValidationError:
            return None
    if on_card is not None:
        return on_card.id if claimed in (None, on_card.id) else None
    return claimed


def register(app: App, rt: Runtime) -> None:
    def step_action(step: str) -> Any:
        def handler(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
            ack()
            user = body["user"]["id"]
            channel = (body.get("container") or {}).get("channel_id")
            answer = _answerer(client, body, user, channel)
            escalation_id = _ticket(rt, body, action)
            if escalation_id is None:
                rt.pool.submit(
                    "refuse",
                    _refuse,
                    rt,
                    user=user,
                    verb=f"escalation.{step}",
                    answer=answer,
                    value=action.get("value"),
                )
                return
            value = action.get("selected_user") or (action.get("selected_option") or {}).get(
                "value"
            )
            rt.pool.submit(
                f"escalation {step}",
                run_step,
                rt,
                client,
                step=step,
                escalation_id=escalation_id,
                user=user,
                answer=answer,
                value=value,
            )

        return handler

    for action_id, step in (
        (ESC_TAKE, "take"),
        (ESC_ASSIGN, "assign"),
        (ESC_ACK, "ack"),
        (ESC_PRIORITY, "priority"),
        (ESC_REOPEN, "reopen"),
    ):
        app.action(action_id)(step_action(step))

    def modal_action(build: Any, verb: str) -> Any:
        def handler(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
            ack()
            user = body["user"]["id"]
            channel = (body.get("container") or {}).get("channel_id")
            escalation_id = _ticket(rt, body, action)
            if escalation_id is None:
                answer = _answerer(client, body, user, channel)
                rt.pool.submit(
                    "refuse", _refuse, rt, user=user, verb=verb, answer=answer, value=None
                )
                return
            meta = CardMeta(escalation_id=escalation_id, channel=channel)
            # The trigger id expires 3 s after the click, so the modal opens here.
            client.views_open(trigger_id=body["trigger_id"], view=build(meta))

        return handler

    app.action(ESC_NOTE)(modal_action(note_modal, "escalation.note"))
    app.action(ESC_RESOLVE)(modal_action(resolve_modal, "escalation.resolve"))

    def _meta(view: dict[str, Any]) -> CardMeta | None:
        try:
            return CardMeta.model_validate_json(view.get("private_metadata") or "")
        except ValidationError:
            return None

    def _field(view: dict[str, Any], block: str, element: str) -> str:
        found = view["state"]["values"].get(block, {}).get(element, {})
        return str(found.get("value") or "").strip()

    @app.view(NOTE_MODAL)
    def note_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        text = _field(view, NOTE_BLOCK, NOTE_INPUT)
        if not text:
            ack(response_action="errors", errors={NOTE_BLOCK: "Write the note first."})
            return
        ack()
        user = body["user"]["id"]
        meta = _meta(view)
        answer = _answerer(client, body, user, meta.channel if meta else None)
        if meta is None:
            rt.pool.submit(
                "refuse", _refuse, rt, user=user, verb="escalation.note", answer=answer, value=None
            )
            return
        rt.pool.submit(
            "escalation note",
            run_step,
            rt,
            client,
            step="note",
            escalation_id=meta.escalation_id,
            user=user,
            answer=answer,
            value=text,
        )

    @app.view(RESOLVE_MODAL)
    def resolve_submitted(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any
    ) -> None:
        outcome = _field(view, OUTCOME_BLOCK, OUTCOME_INPUT)
        if len(outcome) < 2:
            ack(response_action="errors", errors={OUTCOME_BLOCK: "Say what the outcome was."})
            return
        ack()
        user = body["user"]["id"]
        meta = _meta(view)
        answer = _answerer(client, body, user, meta.channel if meta else None)
        if meta is None:
            rt.pool.submit(
                "refuse",
                _refuse,
                rt,
                user=user,
                verb="escalation.resolve",
                answer=answer,
                value=None,
            )
            return
        gap = view["state"]["values"].get(GAP_BLOCK, {}).get(GAP_INPUT, {})
        rt.pool.submit(
            "escalation resolve",
            run_step,
            rt,
            client,
            step="resolve",
            escalation_id=meta.escalation_id,
            user=user,
            answer=answer,
            outcome=outcome,
            remediation=_field(view, REMEDIATION_BLOCK, REMEDIATION_INPUT) or None,
            policy_gap=bool(gap.get("selected_options")),
        )


def _refuse(rt: Runtime, *, user: str, verb: str, answer: Any, value: str | None) -> None:
    audit_refusal(
        rt,
        actor=user,
        verb=verb,
        subject="escalation:?",
        reason="click not on a known escalation card",
        details={"value": (value or "")[:200]},
    )
    answer("That control is not on an escalation card Warden posted; nothing was done.")
