"""The recommendation card's decision buttons: the clicker's own decision on the case.

"Apply as my decision" and "Not violating" record a specialist's decision through
`tools.casework` (no automation gate, no other approver unless the catalogue asks for a second
reviewer); the card then shows who decided and when instead of its buttons.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import ValidationError

from knowledge.vocabulary import ActionType
from slackapp.approvals import audit_refusal, tell_user
from slackapp.blocks import CaseRef, context
from slackapp.escape import escape_untrusted
from slackapp.runtime import Runtime
from warden.errors import WardenError

log = logging.getLogger(__name__)
NOT_VIOLATING_REASON = "Reviewed from the recommendation card: the content does not violate."


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


def submit_decision(
    rt: Runtime,
    client: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    *,
    verdict: Literal["violating", "not_violating"],
) -> None:
    """Parse the button (after the ack) and record the decision in the work pool."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or message.get("ts")
    user = body["user"]["id"]
    try:
        ref = CaseRef.model_validate_json(action.get("value") or "")
    except ValidationError:
        rt.pool.submit("refuse", _refuse, rt, client, user, channel, action.get("value"))
        return
    rt.pool.submit(
        "decide",
        decide_clicked,
        rt,
        client,
        user=user,
        ref=ref,
        verdict=verdict,
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
            reason=None if violating else NOT_VIOLATING_REASON,
            directory=SettingsDirectory(rt.settings),
            now=rt.clock(),
            source="slack",
        )
    except (WardenError, ValueError) as exc:
        tell_user(client, channel, user, f"Your decision was not recorded: {exc}")
        return
    case = result.case
    when = f"{case.decided_at:%Y-%m-%d %H:%M} UTC" if case.decided_at else "now"
    what = (
        f"violating — {case.action.value.replace('_', ' ')} under `{case.section_id}`"
        if case.action
        else "not violating"
    )
    line = (
        f":white_check_mark: Decided by <@{user}> at {when}: {what}. "
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
            channel=channel, ts=message_ts, blocks=blocks, text=message.get("text") or line
        )
    except Exception as exc:  # the decision is stored; the card is only its picture
        log.warning("could not update the recommendation card of %s: %s", ref.case_id, exc)
