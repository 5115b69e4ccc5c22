"""Approve / Reject on proposal cards: who may decide, recording it in the store, and execution.

The store decides (tools.proposals): exactly one decision per proposal whatever the number of
clicks or replicas. This module only turns a click into a store call, answers every refusal to
the clicker, and resumes the agent once — for the click whose decision made the proposal final.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agent.interface import Decision, ProposalOutcome, Refusal
from slackapp.blocks import (
    Block,
    ProposalRef,
    check_blocks,
    outcome_text,
    proposal_blocks,
    section,
)
from slackapp.escape import escape_untrusted
from slackapp.ledger import Post
from slackapp.runtime import DecisionLike, Runtime
from tools.fanout import status as fanout_status
from tools.models import BlastRadius, FanoutProgress, ProposalStatus
from warden.errors import ApprovalError, NotFoundError, WardenError
from warden.redact import redact, secrets_of
from warden.settings import Settings

log = logging.getLogger(__name__)


class ApproverDirectory:
    """Authorised approvers: `settings.approvers` plus the members of the approver user group.

    A decision reads the group fresh from Slack (someone removed from the group a second ago
    must not approve); only displays (App Home, status) may use the list read in the last
    `ttl_s` seconds.
    """

    def __init__(self, settings: Settings, client: Any, *, ttl_s: float = 60.0) -> None:
        self.settings = settings
        self.client = client
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._group: set[str] | None = None
        self._fetched = 0.0

    def _read_group(self, group: str) -> set[str]:
        response = self.client.usergroups_users_list(usergroup=group)
        members = set(response["users"])
        with self._lock:
            self._group, self._fetched = members, time.monotonic()
        return members

    def for_decision(self) -> set[str]:
        """The approvers right now; raises ApprovalError if the group cannot be read."""
        approvers = set(self.settings.approvers)
        group = self.settings.approver_usergroup
        if not group:
            return approvers
        try:
            return approvers | self._read_group(group)
        except Exception as exc:
            raise ApprovalError(
                f"Could not read the approver group {group} from Slack ({exc}); "
                "no decision was recorded. Try again in a minute."
            ) from exc

    def for_display(self) -> set[str]:
        """The approvers as of at most `ttl_s` ago (falls back to settings if Slack fails)."""
        approvers = set(self.settings.approvers)
        group = self.settings.approver_usergroup
        if not group:
            return approvers
        with self._lock:
            cached = self._group if time.monotonic() - self._fetched <= self.ttl_s else None
        if cached is not None:
            return approvers | cached
        try:
            return approvers | self._read_group(group)
        except Exception as exc:
            log.warning("approver group unavailable for display: %s", exc)
            return approvers | (self._group or set())


def audit_refusal(
    rt: Runtime, *, actor: str, verb: str, subject: str, reason: str, details: dict[str, Any]
) -> None:
    """Record a refusal the store never saw (malformed click, unknown proposal, wrong team)."""
    from tools import audit

    try:
        audit.record(
            rt.store,
            actor=actor,
            verb=verb,
            subject=subject,
            source="slack",
            outcome="refused",
            details={"reason": redact(reason, secrets_of(rt.settings)), **details},
        )
    except Exception:
        log.exception("could not audit a refused %s by %s", verb, actor)


def card_location(
    rt: Runtime, client: Any, *, user: str, ref: ProposalRef, channel: str, ts: str, verb: str
) -> Post | None:
    """Where Warden posted this proposal's card, from the ledger; None (refused, audited, the
    clicker told) when the click's card or thread is not that one. Nothing is ever written to a
    card location a click names."""
    posted = rt.ledger.post("proposal", ref.proposal_id)
    if posted is not None and (posted.channel, posted.ts, posted.thread_id) == (
        channel,
        ts,
        ref.thread_id,
    ):
        return posted
    audit_refusal(
        rt,
        actor=user,
        verb=verb,
        subject=f"proposal:{ref.proposal_id[:200]}",
        reason="the click does not come from this proposal's card",
        details={"channel": channel[:40], "message_ts": ts[:40], "thread_id": ref.thread_id[:80]},
    )
    tell_user(client, channel, user, "That card is not this proposal's card; nothing was done.")
    return None


class StoreDecider:
    """The Decider over tools.proposals (the store decides, with its own audit of refusals)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def approve(
        self,
        proposal_id: str,
        approver_id: str,
        action_hash: str,
        *,
        approvers: set[str],
        now: datetime,
    ) -> DecisionLike:
        from tools import proposals

        # `now` (the replica's clock) is not passed on: the store judges expiry by the
        # database's clock, which every replica shares.
        result: DecisionLike = proposals.approve(
            self.store, proposal_id, approver_id, action_hash, approvers=approvers
        )
        return result

    def reject(
        self,
        proposal_id: str,
        approver_id: str,
        action_hash: str,
        *,
        reason: str,
        approvers: set[str],
        now: datetime,
    ) -> DecisionLike:
        from tools import proposals

        result: DecisionLike = proposals.reject(
            self.store,
            proposal_id,
            approver_id,
            action_hash,
            reason=reason,
            approvers=approvers,
        )
        return result


FINAL_STATUSES = frozenset(
    {
        ProposalStatus.EXECUTED,
        ProposalStatus.FAILED,
        ProposalStatus.REJECTED,
        ProposalStatus.EXPIRED,
    }
)


class ProgressUpdater:
    """Shows fanout progress on the card with chat.update, at most once per `interval_s`."""

    def __init__(
        self,
        client: Any,
        channel: str,
        ts: str,
        render: Callable[[FanoutProgress], list[Block]],
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.channel = channel
        self.ts = ts
        self.render = render
        self.interval_s = interval_s
        self.clock = clock
        self._last: float | None = None
        self.updates = 0

    def __call__(self, progress: FanoutProgress) -> None:
        now = self.clock()
        if not progress.done and self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        done = progress.applied + progress.failed
        try:
            self.client.chat_update(
                channel=self.channel,
                ts=self.ts,
                text=f"Executing: {done} of {progress.total}",
                blocks=self.render(progress),
            )
            self.updates += 1
        except Exception as exc:  # progress display must never stop the fanout
            log.warning("progress update failed: %s", exc)


def tell_user(client: Any, channel: str, user: str, text: str) -> None:
    """An ephemeral note to the person; `text` may echo what they or a store held, so the
    notification text is escaped like the block."""
    try:
        client.chat_postEphemeral(
            channel=channel,
            user=user,
            text=escape_untrusted(text, limit=300),
            blocks=[section(escape_untrusted(text, limit=2900))],
        )
    except Exception as exc:
        log.warning("could not tell %s: %s (%s)", user, text, exc)


class ProposalCard:
    """One proposal's card: where it is, and how to redraw it from the store."""

    def __init__(self, rt: Runtime, client: Any, ref: ProposalRef, channel: str, ts: str) -> None:
        self.rt = rt
        self.client = client
        self.ref = ref
        self.channel = channel
        self.ts = ts
        saved = rt.ledger.post("proposal", ref.proposal_id)
        self.blast = (
            BlastRadius.model_validate_json(saved.payload) if saved and saved.payload else None
        )

    def blocks(
        self,
        *,
        progress: FanoutProgress | None = None,
        outcome: ProposalOutcome | None = None,
        note: str | None = None,
    ) -> list[Block]:
        proposal = self.rt.store.get_proposal(self.ref.proposal_id)
        blast = self.blast or BlastRadius(
            total_actions=len(proposal.actions),
            content_count=sum(1 for a in proposal.actions if a.target_type == "content"),
            account_count=sum(1 for a in proposal.actions if a.target_type == "account"),
            sample=proposal.actions[:5],
        )
        return proposal_blocks(
            proposal,
            blast,
            thread_id=self.ref.thread_id,
            progress=progress,
            outcome=outcome,
            note=note,
        )

    def update(self, **kwargs: Any) -> None:
        self._send(self.blocks(**kwargs))
        if kwargs.get("outcome") is None:
            self._redraw_if_finished()

    def _redraw_if_finished(self) -> None:
        # Another replica may have drawn the final state while this update was in flight; the
        # last update Slack receives must show the outcome, so redraw it from the store.
        proposal = self.rt.store.get_proposal(self.ref.proposal_id)
        if proposal.status not in FINAL_STATUSES:
            return
        counts = fanout_status(self.rt.store, proposal.id)
        outcome = ProposalOutcome(
            proposal_id=proposal.id,
            status=proposal.status,
            applied=counts.applied,
            failed=counts.failed,
        )
        self._send(self.blocks(outcome=outcome))

    def _send(self, blocks: list[Block]) -> None:
        check_blocks(blocks)
        try:
            self.client.chat_update(
                channel=self.channel,
                ts=self.ts,
                text=f"Proposal {self.ref.proposal_id}",
                blocks=blocks,
            )
        except Exception as exc:
            log.warning("could not update the card of %s: %s", self.ref.proposal_id, exc)


def approve_clicked(
    rt: Runtime, client: Any, *, user: str, ref: ProposalRef, channel: str, message_ts: str
) -> None:
    """Record one approval; execute only if this click made the proposal approved."""
    posted = card_location(
        rt, client, user=user, ref=ref, channel=channel, ts=message_ts, verb="proposal.approve"
    )
    if posted is None:
        return
    try:
        approvers = rt.approvers.for_decision()
        result = rt.decider.approve(
            ref.proposal_id, user, ref.action_hash, approvers=approvers, now=rt.clock()
        )
    except NotFoundError as exc:  # the store audits decisions on unknown proposals itself
        tell_user(client, channel, user, f"Your approval was not recorded: {exc}")
        return
    except WardenError as exc:
        audit_refusal(
            rt,
            actor=user,
            verb="proposal.approve",
            subject=f"proposal:{ref.proposal_id}",
            reason=str(exc),
            details={"action_hash": ref.action_hash},
        )
        tell_user(client, channel, user, f"Your approval was not recorded: {exc}")
        return
    if not result.accepted:
        tell_user(client, channel, user, f"Your approval was not recorded: {result.reason}")
        return
    card = ProposalCard(rt, client, ref, channel, message_ts)
    _home_changed(rt, client, ref.proposal_id)
    if result.status == ProposalStatus.PENDING:
        proposal = rt.store.get_proposal(ref.proposal_id)
        # The store's count: approvals by people who are approvers now, not every row.
        counted = getattr(result, "approvals", len(proposal.approvals))
        left = proposal.required_approvals - counted
        stale = " Earlier approvals by people no longer approvers no longer count."
        card.update()
        tell_user(
            client,
            channel,
            user,
            f"Your approval is recorded. {left} more approver{'s' if left != 1 else ''} needed."
            + (stale if "no longer count" in result.reason else ""),
        )
        return
    if result.status != ProposalStatus.APPROVED:
        card.update()
        return
    execute(rt, client, card)


def execute(rt: Runtime, client: Any, card: ProposalCard) -> None:
    """Resume the agent with the recorded approval; the fanout reports progress on the card."""
    proposal = rt.store.get_proposal(card.ref.proposal_id)
    card.update(note="Approved: executing now.")
    updater = ProgressUpdater(
        client,
        card.channel,
        card.ts,
        lambda progress: card.blocks(progress=progress),
        interval_s=rt.progress_interval_s,
    )
    decision = Decision(
        proposal_id=proposal.id,
        decision="approve",
        decided_by=[a.approver_id for a in proposal.approvals],
    )
    rt.running.add(proposal.id)
    try:
        finish(rt, client, card, rt_resume(rt, card.ref.thread_id, decision, updater))
    finally:
        rt.running.discard(proposal.id)


def rt_resume(
    rt: Runtime,
    thread_id: str,
    decision: Decision,
    progress: Callable[[FanoutProgress], None] | None = None,
) -> ProposalOutcome | Refusal:
    try:
        response = rt.warden.resume(thread_id, decision, progress=progress)
    except WardenError as exc:
        return Refusal(reason=str(exc))
    except Exception:
        log.exception("resume failed for %s", decision.proposal_id)
        return Refusal(
            reason="Execution stopped on an internal error. Nothing is applied twice: run "
            f"`warden fanout run {decision.proposal_id}` to finish it, or ask the platform team."
        )
    if isinstance(response, ProposalOutcome | Refusal):
        return response
    return Refusal(reason=f"Unexpected reply from the agent: {response.kind}")


def finish(rt: Runtime, client: Any, card: ProposalCard, result: ProposalOutcome | Refusal) -> None:
    if isinstance(result, ProposalOutcome):
        card.update(outcome=result)
        text = outcome_text(result)
    else:
        card.update(note=result.reason)
        text = ":warning: " + escape_untrusted(result.reason, limit=2900)
    try:
        client.chat_postMessage(
            channel=card.channel,
            # Replies stay in the conversation's thread (thread_id is "channel:thread_ts").
            thread_ts=card.ref.thread_id.rpartition(":")[2] or card.ts,
            text=f"Proposal {card.ref.proposal_id}",
            blocks=[section(f"Proposal `{card.ref.proposal_id}`: {text}")],
        )
    except Exception as exc:
        log.warning("could not post the outcome of %s: %s", card.ref.proposal_id, exc)


def reject_submitted(
    rt: Runtime,
    client: Any,
    *,
    user: str,
    ref: ProposalRef,
    reason: str,
    channel: str,
    message_ts: str,
) -> None:
    """Record a rejection with its reason; resume the agent once if it was accepted."""
    posted = card_location(
        rt, client, user=user, ref=ref, channel=channel, ts=message_ts, verb="proposal.reject"
    )
    if posted is None:
        return
    try:
        result = rt.decider.reject(
            ref.proposal_id,
            user,
            ref.action_hash,
            reason=reason,
            approvers=rt.approvers.for_decision(),
            now=rt.clock(),
        )
    except NotFoundError as exc:  # the store audits decisions on unknown proposals itself
        tell_user(client, channel, user, f"Your rejection was not recorded: {exc}")
        return
    except WardenError as exc:
        audit_refusal(
            rt,
            actor=user,
            verb="proposal.reject",
            subject=f"proposal:{ref.proposal_id}",
            reason=str(exc),
            details={"action_hash": ref.action_hash},
        )
        tell_user(client, channel, user, f"Your rejection was not recorded: {exc}")
        return
    if not result.accepted:
        tell_user(client, channel, user, f"Your rejection was not recorded: {result.reason}")
        return
    card = ProposalCard(rt, client, ref, channel, message_ts)
    decision = Decision(
        proposal_id=ref.proposal_id, decision="reject", decided_by=[user], reason=reason
    )
    finish(rt, client, card, rt_resume(rt, ref.thread_id, decision))
    _home_changed(rt, client, ref.proposal_id)


def _home_changed(rt: Runtime, client: Any, proposal_id: str) -> None:
    """Every approver's App Home follows a decision (slackapp/paging.py)."""
    from slackapp.paging import proposal_changed

    proposal_changed(rt, client, proposal_id)
