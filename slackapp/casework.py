"""The recommendation card's decision buttons: the clicker's own decision on the case.

"Apply as my decision" and "Not violating" record a specialist's decision through
`tools.casework` (no automation gate, no other approver unless the catalogue asks for a second
reviewer); the card then shows who decided and when instead of its buttons. "Not violating"
asks for its ground first, in a modal: the reason the account is told and, optionally, the
policy exception that applies (the draft's own exception offered first). The card being
decided is kept server-side while the modal is open (a modal's metadata holds 3000
characters, a card more), and referenced by id.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from knowledge.vocabulary import ActionType
from slackapp.approvals import audit_refusal, tell_user
from slackapp.blocks import Block, CaseRef, context, section, when
from slackapp.escape import escape_untrusted
from slackapp.ledger import Post
from slackapp.runtime import Runtime
from warden.errors import WardenError

log = logging.getLogger(__name__)
NOT_VIOLATING_MODAL = "warden_not_violating_modal"
GROUND_BLOCK, GROUND_INPUT = "ground", "ground_input"
EXCEPTION_BLOCK, EXCEPTION_INPUT = "exception", "exception_input"
CARD = "decision_card"  # ledger kind: the card a not-violating modal decides
MAX_OPTIONS = 100  # Slack's limit for a static_select


class GroundMeta(BaseModel):
    """The not-violating modal's private_metadata: the case, and the card kept by id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    thread_id: str
    card_id: str


def _catalogue(rt: Runtime) -> Any:
    if "catalogue" not in rt.extras:
        from knowledge.catalogue import load_catalogue

        rt.extras["catalogue"] = load_catalogue(rt.settings.catalogue_dir)
    return rt.extras["catalogue"]


def _gateway(rt: Runtime) -> Any:
    if "gateway" not in rt.extras:
        from tools.gateway import build_gateway

        rt.extras["gateway"] = build_gateway(rt.settings, rt.store.engine)
    return rt.extras["gateway"]


def _clicked(
    rt: Runtime, client: Any, body: dict[str, Any], action: dict[str, Any]
) -> tuple[CaseRef, str, str, dict[str, Any]] | None:
    """The button's case and the card it sits on; None (refused, audited) if malformed."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or message.get("ts")
    user = body["user"]["id"]
    try:
        ref = CaseRef.model_validate_json(action.get("value") or "")
    except ValidationError:
        rt.pool.submit("refuse", _refuse, rt, client, user, channel, action.get("value"))
        return None
    return ref, str(channel), str(ts), message


def exception_options(rt: Runtime, policy_id: str | None) -> list[Any]:
    """The policy's exception sections (what a not-violating ground may cite)."""
    if not policy_id:
        return []
    try:
        sections = _catalogue(rt).sections_of(policy_id)
    except WardenError:
        return []
    return [s for s in sections if s.kind.value == "exception"][:MAX_OPTIONS]


def ground_modal(meta: GroundMeta, *, exceptions: list[Any], initial: str | None) -> Block:
    """Ask for the ground of a not-violating decision: a reason, and the exception if any."""

    def option(s: Any) -> Block:
        label = f"{s.id} {s.title}"
        return {"text": {"type": "plain_text", "text": label[:75]}, "value": s.id}

    blocks: list[Block] = [
        section(
            f"Case `{escape_untrusted(meta.case_id, limit=60)}` does not violate. "
            "The reason is what the account is told; it is audited with your name."
        )
    ]
    if exceptions:
        element: Block = {
            "type": "static_select",
            "action_id": EXCEPTION_INPUT,
            "placeholder": {"type": "plain_text", "text": "No exception"},
            "options": [option(s) for s in exceptions],
        }
        chosen = next((s for s in exceptions if s.id == initial), None)
        if chosen is not None:
            element["initial_option"] = option(chosen)
        blocks.append(
            {
                "type": "input",
                "block_id": EXCEPTION_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Exception that applies (optional)"},
                "element": element,
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": GROUND_BLOCK,
            "label": {"type": "plain_text", "text": "Why it does not violate"},
            "element": {
                "type": "plain_text_input",
                "action_id": GROUND_INPUT,
                "multiline": True,
                "min_length": 3,
                "max_length": 1000,
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": NOT_VIOLATING_MODAL,
        "private_metadata": meta.model_dump_json(),
        "title": {"type": "plain_text", "text": "Not violating"},
        "submit": {"type": "plain_text", "text": "Record decision"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def open_ground_modal(
    rt: Runtime, client: Any, body: dict[str, Any], action: dict[str, Any]
) -> None:
    """Not violating was clicked: open the modal now (the trigger id lasts 3 s), then keep the
    card server-side for the submission."""
    clicked = _clicked(rt, client, body, action)
    if clicked is None:
        return
    ref, channel, ts, message = clicked
    meta = GroundMeta(case_id=ref.case_id, thread_id=ref.thread_id, card_id=uuid.uuid4().hex)
    view = ground_modal(meta, exceptions=exception_options(rt, ref.policy), initial=ref.section)
    client.views_open(trigger_id=body["trigger_id"], view=view)
    kept = {"text": message.get("text") or "", "blocks": message.get("blocks") or []}
    rt.ledger.remember_post(CARD, meta.card_id, Post(channel, ts, ref.thread_id, json.dumps(kept)))


def ground_submitted(rt: Runtime, client: Any, *, user: str, view: dict[str, Any]) -> None:
    """Record the not-violating decision a submitted modal gives the ground for."""
    values = view["state"]["values"]
    reason = str((values.get(GROUND_BLOCK, {}).get(GROUND_INPUT) or {}).get("value") or "")
    chosen = (values.get(EXCEPTION_BLOCK, {}).get(EXCEPTION_INPUT) or {}).get("selected_option")
    try:
        meta = GroundMeta.model_validate_json(view.get("private_metadata") or "")
    except ValidationError:
        meta = None
    card = rt.ledger.post(CARD, meta.card_id) if meta is not None else None
    if meta is None or card is None or card.thread_id != meta.thread_id:
        _refuse(rt, client, user, card.channel if card else None, view.get("private_metadata"))
        return
    kept = json.loads(card.payload or "{}")
    decide_clicked(
        rt,
        client,
        user=user,
        ref=CaseRef(case_id=meta.case_id, thread_id=meta.thread_id),
        verdict="not_violating",
        channel=card.channel,
        message_ts=card.ts,
        message=kept,
        reason=reason.strip(),
        exception_section=str(chosen["value"]) if chosen else None,
    )


def submit_decision(rt: Runtime, client: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Apply as my decision: parse the button (after the ack), decide in the work pool."""
    clicked = _clicked(rt, client, body, action)
    if clicked is None:
        return
    ref, channel, ts, message = clicked
    user = body["user"]["id"]
    rt.pool.submit(
        "decide",
        decide_clicked,
        rt,
        client,
        user=user,
        ref=ref,
        verdict="violating",
        channel=channel,
        message_ts=ts,
        message=message,
    )


def _refuse(rt: Runtime, client: Any, user: str, channel: str | None, value: Any) -> None:
    audit_refusal(
        rt,
        actor=user,
        verb="case.decide",
        subject="case:?",
        reason="malformed button value",
        details={"value": str(value or "")[:200]},
    )
    if channel:
        tell_user(client, channel, user, "That button is not one Warden posted; nothing was done.")


def decide_clicked(
    rt: Runtime,
    client: Any,
    *,
    user: str,
    ref: CaseRef,
    verdict: Literal["violating", "not_violating"],
    channel: str,
    message_ts: str,
    message: dict[str, Any],
    reason: str | None = None,
    exception_section: str | None = None,
) -> None:
    from tools.casework import decide
    from warden.identity import SettingsDirectory

    try:
        violating = verdict == "violating"
        result = decide(
            rt.store,
            _catalogue(rt),
            _gateway(rt) if violating else None,
            ref.case_id,
            actor=user,
            verdict=verdict,
            section_id=ref.section if violating else None,
            action=ActionType(ref.action) if violating and ref.action else None,
            reason=None if violating else reason,
            exception_section=None if violating else exception_section,
            directory=SettingsDirectory(rt.settings),
            now=rt.clock(),
            source="slack",
        )
    except (WardenError, ValueError) as exc:
        tell_user(client, channel, user, f"Your decision was not recorded: {exc}")
        return
    case = result.case
    at = when(case.decided_at) if case.decided_at else "just now"
    if case.action:
        what = f"violating — {case.action.value.replace('_', ' ')} under `{case.section_id}`"
    else:
        what = "not violating"
        if exception_section:
            what += f" (exception `{escape_untrusted(exception_section, limit=30)}`)"
        if reason:
            what += f": _{escape_untrusted(reason, limit=500)}_"
    line = (
        f":white_check_mark: Decided by <@{user}> {at}: {what}. "
        f"Case `{escape_untrusted(case.case_id, limit=60)}` is "
        f"{case.status.value.replace('_', ' ')}."
    )
    if result.waiting_for_second_reviewer:
        line += f" A second reviewer must confirm (proposal `{case.proposal_id}`)."
    for effect in result.strike_effects:
        crossed = effect.threshold_crossed
        line += (
            f" Strikes for `{escape_untrusted(effect.account_id, limit=60)}`: "
            f"{effect.active_before} → {effect.active_after}"
            + (f", {crossed.value.replace('_', ' ')}" if crossed else "")
            + (
                f" for {effect.restriction_days} days"
                if crossed and effect.restriction_days
                else ""
            )
            + "."
        )
    blocks = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
    blocks.append(context(line))
    try:
        client.chat_update(
            channel=channel,
            ts=message_ts,
            blocks=blocks,
            text=message.get("text") or f"Case {escape_untrusted(case.case_id, limit=60)} decided",
        )
    except Exception as exc:  # the decision is stored; the card is only its picture
        log.warning("could not update the recommendation card of %s: %s", ref.case_id, exc)
