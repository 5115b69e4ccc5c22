"""QA review cards: a sampled decision goes to a reviewer with Agree / Disagree (+ reason).

The verdict is recorded in the store (`tools.qa.record_review`), which accepts exactly one review
per sample, so a double click or two replicas handling the same click count once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from slackapp.blocks import Block, actions, button, context, header, section
from slackapp.escape import escape_untrusted
from tools.qa import QASample, get_sample, mark_posted, pending, record_review
from warden.errors import WardenError

if TYPE_CHECKING:
    from slack_bolt import App

    from tools.store import Store

log = logging.getLogger(__name__)

QA_AGREE = "warden_qa_agree"
QA_DISAGREE = "warden_qa_disagree"
QA_REASON_MODAL = "warden_qa_reason"
QA_REASON_BLOCK = "qa_reason"
QA_REASON_INPUT = "qa_reason_input"


class QARef(BaseModel):
    """What the Agree / Disagree buttons carry: the sample id only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_id: str


class QAMeta(BaseModel):
    """The reason modal's private_metadata: which sample, and which card to update."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_id: str
    channel: str
    message_ts: str


def _facts(sample: QASample) -> list[str]:
    subject = "Case" if sample.subject_type == "case" else "Action"
    decided_by = f"<@{sample.decided_by}>" if _is_user(sample.decided_by) else "-"
    return [
        f"*{subject}*\n`{escape_untrusted(sample.subject_id, limit=120)}`",
        f"*Policy*\n{escape_untrusted(sample.policy_id or '-', limit=40)}",
        f"*Decided by*\n{decided_by}",
        f"*Vendor team*\n{escape_untrusted(sample.vendor_team or 'in-house', limit=60)}",
    ]


def _is_user(value: str | None) -> bool:
    # Only real Slack user ids are turned into mentions; anything else stays plain text.
    return bool(value) and value is not None and value[:1] in {"U", "W"} and value.isalnum()


def qa_card_blocks(sample: QASample) -> list[Block]:
    """The review card: what was decided, and Agree / Disagree."""
    ref = QARef(sample_id=sample.id)
    return [
        header("QA review"),
        section(
            f"Was this decision right? *{escape_untrusted(sample.decision, limit=500)}*",
            fields=_facts(sample),
        ),
        actions(
            button("Agree", QA_AGREE, ref, style="primary"),
            button("Disagree", QA_DISAGREE, ref, style="danger"),
            block_id=f"qa:{sample.id}",
        ),
        context(
            f"Sample `{sample.id}` · decided {sample.decided_at:%Y-%m-%d %H:%M} UTC · "
            "chosen by a deterministic hash sample of decisions"
        ),
    ]


def reviewed_blocks(sample: QASample) -> list[Block]:
    """The card after its review: the verdict replaces the buttons."""
    verdict = ":white_check_mark: Agreed" if sample.agree else ":x: Disagreed"
    reviewer = f"<@{sample.reviewer_id}>" if _is_user(sample.reviewer_id) else "a reviewer"
    lines = [f"{verdict} — reviewed by {reviewer}"]
    if sample.reason:
        lines.append(f"> {escape_untrusted(sample.reason, limit=900)}")
    return [
        header("QA review"),
        section(f"*{escape_untrusted(sample.decision, limit=500)}*", fields=_facts(sample)),
        section("\n".join(lines)),
        context(f"Sample `{sample.id}`"),
    ]


def reason_modal(meta: QAMeta) -> Block:
    return {
        "type": "modal",
        "callback_id": QA_REASON_MODAL,
        "private_metadata": meta.model_dump_json(),
        "title": {"type": "plain_text", "text": "Disagree"},
        "submit": {"type": "plain_text", "text": "Record"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section("What should the decision have been, and why? The reason feeds calibration."),
            {
                "type": "input",
                "block_id": QA_REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": QA_REASON_INPUT,
                    "multiline": True,
                    "min_length": 3,
                    "max_length": 1000,
                },
            },
        ],
    }


def post_samples(client: Any, store: Store, channel: str, *, limit: int = 20) -> int:
    """Post cards for samples not yet posted; returns how many were posted."""
    posted = 0
    for sample in pending(store, limit=limit, unposted_only=True):
        blocks = qa_card_blocks(sample)
        reply = client.chat_postMessage(
            channel=channel,
            blocks=blocks,
            text=f"QA review: {escape_untrusted(sample.subject_id, limit=120)}",
        )
        mark_posted(store, sample.id, channel=reply["channel"], ts=reply["ts"])
        posted += 1
    return posted


def _card(body: dict[str, Any]) -> tuple[str, str]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts", "")
    return channel, ts


def _review(
    client: Any,
    store: Store,
    *,
    sample_id: str,
    user: str,
    agree: bool,
    reason: str | None,
    channel: str,
    message_ts: str,
) -> None:
    try:
        result = record_review(store, sample_id, reviewer_id=user, agree=agree, reason=reason)
    except WardenError as exc:
        client.chat_postEphemeral(
            channel=channel, user=user, text=escape_untrusted(str(exc), limit=2000)
        )
        return
    if not result.accepted:
        client.chat_postEphemeral(
            channel=channel, user=user, text=escape_untrusted(result.reason, limit=2000)
        )
        return
    if channel and message_ts:
        client.chat_update(
            channel=channel,
            ts=message_ts,
            blocks=reviewed_blocks(result.sample),
            text=f"QA review recorded: {'agree' if agree else 'disagree'}",
        )
    if not agree:  # what the disagreement opened (a reversal proposal), or why nothing
        client.chat_postEphemeral(
            channel=channel, user=user, text=escape_untrusted(result.reason, limit=2000)
        )


def register(app: App, *, store: Store) -> None:
    """Attach the QA card's buttons and reason modal to the Bolt app."""

    @app.action(QA_AGREE)
    def agree(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        try:
            ref = QARef.model_validate_json(action["value"])
        except ValidationError:
            log.warning("qa: malformed button value")
            return
        channel, ts = _card(body)
        _review(
            client,
            store,
            sample_id=ref.sample_id,
            user=body["user"]["id"],
            agree=True,
            reason=None,
            channel=channel,
            message_ts=ts,
        )

    @app.action(QA_DISAGREE)
    def disagree(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        try:
            ref = QARef.model_validate_json(action["value"])
        except ValidationError:
            log.warning("qa: malformed button value")
            return
        channel, ts = _card(body)
        user = body["user"]["id"]
        try:
            sample = get_sample(store, ref.sample_id)
        except WardenError as exc:
            client.chat_postEphemeral(
                channel=channel, user=user, text=escape_untrusted(str(exc), limit=2000)
            )
            return
        if sample.reviewed:
            client.chat_postEphemeral(
                channel=channel, user=user, text=f"Already reviewed by <@{sample.reviewer_id}>."
            )
            return
        meta = QAMeta(sample_id=ref.sample_id, channel=channel, message_ts=ts)
        client.views_open(trigger_id=body["trigger_id"], view=reason_modal(meta))

    @app.view(QA_REASON_MODAL)
    def reason_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        value = view["state"]["values"].get(QA_REASON_BLOCK, {}).get(QA_REASON_INPUT, {})
        reason = (value.get("value") or "").strip()
        if len(reason) < 3:
            ack(response_action="errors", errors={QA_REASON_BLOCK: "Say why, in a few words."})
            return
        ack()
        meta = QAMeta.model_validate_json(view["private_metadata"])
        _review(
            client,
            store,
            sample_id=meta.sample_id,
            user=body["user"]["id"],
            agree=False,
            reason=reason,
            channel=meta.channel,
            message_ts=meta.message_ts,
        )
