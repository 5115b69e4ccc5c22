"""App Home tab: published whenever a person opens it; Approve / Reject can be clicked there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from slackapp.approvals import approve_clicked
from slackapp.blocks import ProposalRef, RejectMeta, reject_modal, section
from slackapp.escape import escape_untrusted
from slackapp.home import (
    HOME_APPROVE,
    HOME_REJECT,
    HOME_TAKE_NEXT,
    HomeProposalRef,
    TakeNextRef,
    publish,
    take_next,
)
from slackapp.runtime import Runtime
from slackapp.triage import dm

if TYPE_CHECKING:
    from slack_bolt import App


def _card(rt: Runtime, value: str | None) -> tuple[HomeProposalRef, Any] | None:
    """The proposal a Home button names, and where its card is (from the ledger)."""
    try:
        ref = HomeProposalRef.model_validate_json(value or "")
    except ValidationError:
        return None
    post = rt.ledger.post("proposal", ref.proposal_id)
    return (ref, post) if post is not None else None


def approve_from_home(rt: Runtime, client: Any, *, user: str, value: str | None) -> None:
    found = _card(rt, value)
    if found is None:
        text = "That proposal has no card Warden knows of; approve it where it was posted."
        dm(client, user, text, [section(text)])
        return
    ref, post = found
    card_ref = ProposalRef(
        proposal_id=ref.proposal_id, action_hash=ref.action_hash, thread_id=post.thread_id
    )
    # The same path as the card's button: the store decides, refusals are answered.
    approve_clicked(rt, client, user=user, ref=card_ref, channel=post.channel, message_ts=post.ts)


def register(app: App, rt: Runtime) -> None:
    @app.event("app_home_opened")
    def home_opened(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("tab", "home") != "home":
            return
        rt.pool.submit("home", publish, rt, client, event["user"], first_delivery=rt.once(body))

    @app.action(HOME_APPROVE)
    def approve(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        rt.pool.submit(
            "home approve",
            approve_from_home,
            rt,
            client,
            user=body["user"]["id"],
            value=action.get("value"),
        )

    @app.block_action(HOME_TAKE_NEXT)
    def take(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        try:
            pod = TakeNextRef.model_validate_json(action.get("value") or "").pod
        except ValidationError:
            return
        user = body["user"]["id"]

        def run() -> None:
            text = take_next(rt, client, user=user, pod=pod)
            dm(client, user, text, [section(escape_untrusted(text, limit=500))])
            publish(rt, client, user)

        rt.pool.submit("home take next", run)

    @app.action(HOME_REJECT)
    def reject(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        found = _card(rt, action.get("value"))
        if found is None:
            return
        ref, post = found
        meta = RejectMeta(
            proposal_id=ref.proposal_id,
            action_hash=ref.action_hash,
            thread_id=post.thread_id,
            channel=post.channel,
            message_ts=post.ts,
        )
        # The card's own reject modal: its submission goes through the same store checks.
        client.views_open(trigger_id=body["trigger_id"], view=reject_modal(meta))
