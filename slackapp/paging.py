"""Approvals reach the approvers: a new proposal pages them, and App Home follows every change.

With an approver user group (WARDEN_APPROVER_USERGROUP) the proposal card mentions the group;
with only a list of approvers (WARDEN_APPROVERS) each of them, the requester excepted, gets a
DM with a link to the card. Either way every approver's App Home is republished.
"""

from __future__ import annotations

import logging
from typing import Any

from slackapp.blocks import Block, section
from slackapp.runtime import Runtime
from tools.models import Proposal

log = logging.getLogger(__name__)


def approver_mention(rt: Runtime) -> str | None:
    """The approver group's mention token, when a group is configured."""
    group = rt.settings.approver_usergroup
    return f"<!subteam^{group}>" if group else None


def with_mention(rt: Runtime, text: str, blocks: list[Block]) -> tuple[str, list[Block]]:
    """A new proposal card that pages the approver group (text and a line on the card)."""
    mention = approver_mention(rt)
    if mention is None:
        return text, blocks
    line = section(f":bell: {mention} a proposal needs your approval.")
    return f"{text} {mention}", [*blocks[:1], line, *blocks[1:]]


def announce_proposal(
    rt: Runtime, client: Any, proposal: Proposal, *, channel: str, ts: str
) -> None:
    """DM the listed approvers a link (when no group is mentioned) and refresh App Home."""
    from slackapp.home import republish
    from slackapp.triage import dm, permalink

    approvers = rt.approvers.for_display() - {proposal.requester_id}
    if approver_mention(rt) is None:
        link = permalink(client, channel, ts)
        where = f"<{link}|the card>" if link else f"the card in <#{channel}>"
        action = proposal.action.value.replace("_", " ")
        text = (
            f":bell: <@{proposal.requester_id}> asks for approval of proposal `{proposal.id}` "
            f"({action} × {len(proposal.actions)}). Review it on {where} or in App Home."
        )
        for user in sorted(approvers):
            dm(client, user, f"Proposal {proposal.id} needs approval", [section(text)])
    republish(rt, client, approvers | {proposal.requester_id})


def proposal_changed(rt: Runtime, client: Any, proposal_id: str) -> None:
    """After a decision or an expiry: every approver's App Home shows the new state."""
    from slackapp.home import republish

    try:
        proposal = rt.store.get_proposal(proposal_id)
        users = rt.approvers.for_display() | {proposal.requester_id}
    except Exception as exc:
        log.warning("App Home not refreshed after %s: %s", proposal_id, exc)
        return
    republish(rt, client, users)
