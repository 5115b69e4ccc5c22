"""The full target list of a proposal, in a paginated modal (the card shows a sample)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from slackapp.blocks import VIEW_TARGETS, TargetsRef, targets_modal
from slackapp.runtime import Runtime
from warden.errors import NotFoundError

if TYPE_CHECKING:
    from slack_bolt import App


def register(app: App, rt: Runtime) -> None:
    @app.action(VIEW_TARGETS)
    def view_targets(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        try:
            ref = TargetsRef.model_validate_json(action.get("value") or "")
            proposal = rt.store.get_proposal(ref.proposal_id)
        except (ValidationError, NotFoundError):
            return
        view = targets_modal(proposal, ref.page)
        # Previous / Next inside the modal replace it; from the card, a new modal opens (the
        # trigger id expires 3 s after the click, so this runs here, not in the pool).
        current = body.get("view") or {}
        if current.get("type") == "modal" and current.get("id"):
            client.views_update(view_id=current["id"], hash=current.get("hash"), view=view)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)
