"""Cards for proposals that arrive through the HTTP API: posted in the policy's pod channel.

The API (api/) stores the proposal and hands it to `SlackProposalNotifier`; from here on it is
the same proposal as one typed in Slack: paused in the agent for its decision, posted with its
blast radius, approved or rejected on its card, executed by the fanout on approval.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from agent.interface import ProposalPending, WardenResponse
from slackapp.blocks import response_blocks
from slackapp.conversation import post, thread_id_of
from slackapp.ledger import Post
from slackapp.runtime import Runtime
from tools.detectors import Submitted

log = logging.getLogger(__name__)


class PausesProposals(Protocol):
    """The agent's entry point for proposals made elsewhere (agent.service.Warden has it)."""

    def await_decision(
        self, thread_id: str, created: ProposalPending, *, requester_id: str
    ) -> WardenResponse: ...


def post_proposal_card(
    rt: Runtime, client: Any, warden: PausesProposals, submitted: Submitted
) -> None:
    """Pause the proposal for a decision, then post its card in the pod channel."""
    proposal, radius = submitted.proposal, submitted.blast_radius
    if proposal is None or radius is None:
        return
    from slackapp.paging import announce_proposal, with_mention
    from slackapp.triage import directory

    # The catalogue names the pod channel; Slack is addressed by its id (resolved once).
    channel = directory(rt, client).channel_id(submitted.channel)
    # No conversation thread: the card's own message becomes the thread of its outcome.
    thread_id = thread_id_of(channel, "")
    pending = warden.await_decision(
        thread_id,
        ProposalPending(proposal=proposal, blast_radius=radius),
        requester_id=proposal.requester_id,
    )
    if not isinstance(pending, ProposalPending):
        log.warning("proposal %s could not be paused for approval: %s", proposal.id, pending)
        return
    text, blocks = with_mention(rt, *response_blocks(pending, thread_id=thread_id))
    posted = post(client, channel=channel, thread_ts=None, text=text, blocks=blocks)
    rt.ledger.remember_post(
        "proposal",
        proposal.id,
        Post(str(posted["channel"]), str(posted["ts"]), thread_id, radius.model_dump_json()),
    )
    announce_proposal(rt, client, proposal, channel=str(posted["channel"]), ts=str(posted["ts"]))


class SlackProposalNotifier:
    """`api.app.ProposalNotifier` for the Slack app: the card is posted after the API answers."""

    def __init__(self, rt: Runtime, client: Any, warden: PausesProposals) -> None:
        self.rt = rt
        self.client = client
        self.warden = warden

    def proposal_created(self, submitted: Submitted) -> None:
        self.rt.pool.submit(
            "api proposal card", post_proposal_card, self.rt, self.client, self.warden, submitted
        )
