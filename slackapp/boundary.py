"""What a signed Slack request must look like before any listener runs, and whose it must be.

A valid signature proves the request came through Slack for this app, not that it is well formed
or from this workspace: the signing secret is per app, and an app can be installed in several
workspaces or an Enterprise Grid. So every request is checked here, failing closed:

- `workspace_refusal`: the team (and the clicking user's team, and the enterprise) must be this
  installation's; missing, null, empty or oddly typed values are refusals, not wildcards.
- `malformed`: the fields listeners rely on exist with the right types (a user id of Slack's
  shape, a message container for card buttons, a view state for modal submissions, a user id
  on commands), and legacy payload types (attachments, dialogs) are refused; listeners are
  registered per payload type, so a `dialog_submission` can never reach a card button.
A malformed request gets HTTP 400 instead of a listener's KeyError (HTTP 500).
"""

from __future__ import annotations

from typing import Any

from slackapp.blocks import APPLY, APPROVE, ESCALATE_CASE, ESCALATE_QUESTION, REJECT, USER_ID

# Buttons that only exist on Warden's messages: their clicks must carry a message container.
MESSAGE_BUTTONS = frozenset({APPROVE, REJECT, APPLY, ESCALATE_CASE, ESCALATE_QUESTION})
LEGACY_TYPES = frozenset(
    {
        "interactive_message",
        "dialog_submission",
        "dialog_suggestion",
        "dialog_cancellation",
        "workflow_step_edit",
    }
)
_USER_PAYLOADS = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}
)


def valid_user_id(value: object) -> bool:
    """A Slack user id (U… or W…, upper-case letters and digits), nothing that can carry markup."""
    return isinstance(value, str) and bool(USER_ID.fullmatch(value))


def _str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def malformed(body: dict[str, Any]) -> str | None:
    """Why this request cannot be handled (None when its shape is sound)."""
    kind = body.get("type")
    if "command" in body:
        if not valid_user_id(body.get("user_id")):
            return "a command without a valid user_id"
        if not _str(body.get("channel_id")):
            return "a command without a channel_id"
        return None
    if kind in LEGACY_TYPES:
        return f"legacy payload type {kind!r} is not used by Warden"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not _str(event.get("type")):
            return "an event callback without an event"
        if "user" in event and isinstance(event["user"], str) and not valid_user_id(event["user"]):
            return "an event whose user is not a Slack user id"
        return None
    if kind not in _USER_PAYLOADS:
        return None  # Bolt answers what no listener handles
    user = body.get("user")
    if not isinstance(user, dict) or not valid_user_id(user.get("id")):
        return f"a {kind} payload without a valid user id"
    if kind == "block_actions":
        return _block_actions(body)
    if kind == "view_submission":
        view = body.get("view")
        if not isinstance(view, dict) or not all(
            _str(view.get(k)) for k in ("type", "callback_id")
        ):
            return "a view submission without a view"
        state = view.get("state")
        if not isinstance(state, dict) or not isinstance(state.get("values"), dict):
            return "a view submission without state values"
    if kind in ("shortcut", "message_action"):
        if not _str(body.get("callback_id")) or not _str(body.get("trigger_id")):
            return f"a {kind} without a callback_id or trigger_id"
        if kind == "message_action" and not (
            isinstance(body.get("channel"), dict) and _str(body["channel"].get("id"))
        ):
            return "a message shortcut without a channel"
    return None


def _block_actions(body: dict[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "a block_actions payload without actions"
    if not all(isinstance(a, dict) and _str(a.get("action_id")) for a in actions):
        return "an action without an action_id"
    if not _str(body.get("trigger_id")):
        return "a block_actions payload without a trigger_id"
    if any(a["action_id"] in MESSAGE_BUTTONS for a in actions):
        container = body.get("container")
        if not (
            isinstance(container, dict)
            and container.get("type") == "message"
            and _str(container.get("channel_id"))
            and _str(container.get("message_ts"))
        ):
            return "a card button clicked outside a message container"
    return None


def workspace_refusal(
    body: dict[str, Any], *, team_id: str, enterprise_id: str | None
) -> str | None:
    """Why this request is not from this installation's workspace (None when it is).

    The field each payload kind carries must name our team (interactions: `team.id`; events and
    commands: `team_id`), and every other place that names a team or an enterprise must agree.
    """
    if "command" in body or body.get("type") == "event_callback":
        primary = body.get("team_id")
    else:
        team = body.get("team")
        primary = team.get("id") if isinstance(team, dict) else None
    if not isinstance(primary, str) or not primary:
        return "the request's workspace is missing or not an id"
    named = [primary]
    if "team_id" in body:
        named.append(body["team_id"])
    user = body.get("user")
    if isinstance(user, dict) and "team_id" in user:
        named.append(user["team_id"])
    for value in named:
        if value != team_id:
            return f"the request names workspace {str(value)[:20]!r}"
    enterprises: list[object] = []
    if body.get("enterprise") is not None:
        ent = body["enterprise"]
        enterprises.append(ent.get("id") if isinstance(ent, dict) else ent)
    if body.get("enterprise_id") is not None:
        enterprises.append(body["enterprise_id"])
    if isinstance(user, dict) and user.get("enterprise_id") is not None:
        enterprises.append(user["enterprise_id"])
    for named_enterprise in enterprises:
        if not isinstance(named_enterprise, str) or named_enterprise != enterprise_id:
            return "the request comes from another enterprise organisation"
    return None
