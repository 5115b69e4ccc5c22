"""The background sweep: SLA reminders for escalations, and expiry of unanswered proposals."""

from __future__ import annotations

import logging
import threading
from typing import Any

from slackapp.blocks import mention, section
from slackapp.escape import escape_untrusted
from slackapp.runtime import Runtime

log = logging.getLogger(__name__)


def _thread_notice(
    client: Any, *, channel: str, thread_ts: str | None, text: str, blocks: list[Any]
) -> None:
    """A notice in the card's thread, broadcast to the channel so people see it."""
    if thread_ts:
        client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, reply_broadcast=True, text=text, blocks=blocks
        )
    else:
        client.chat_postMessage(channel=channel, text=text, blocks=blocks)


def send_due_reminders(rt: Runtime, client: Any) -> int:
    """Post every reminder due now; returns how many this process sent.

    `mark_reminded` claims (ticket, level) in the store before posting, so two replicas never
    both remind; a post that then fails is logged (the next level will still be sent). The
    reminder is broadcast from the card's thread and mentions the owner, or with none the
    on-call group, so it notifies someone.
    """
    from slackapp.home import escalation_audience, republish
    from slackapp.triage import directory, on_call_group, redraw
    from tools.escalations import find_breaches, mark_reminded

    now = rt.clock()
    sent = 0
    for reminder in find_breaches(rt.store, now):
        if not mark_reminded(rt.store, reminder.escalation_id, reminder.level, now=now):
            continue
        esc = rt.store.get_escalation(reminder.escalation_id)
        hours = f"{reminder.overdue_minutes // 60} h {reminder.overdue_minutes % 60} min"
        group = on_call_group(rt, client, esc)
        if reminder.owner_id:
            who = mention(reminder.owner_id)
        elif group:
            who = f"<!subteam^{group}> (no owner yet: take it from the card)"
        else:
            who = "nobody (unassigned: take it from the card)"
        text = (
            f":alarm_clock: *SLA breached* · escalation `{reminder.escalation_id}` "
            f"({reminder.priority.value}) is {hours} past its deadline "
            f"(reminder {reminder.level}). Owner: {who}.\n"
            f"_{escape_untrusted(reminder.summary, limit=300)}_"
        )
        fallback = f"SLA breached: escalation {reminder.escalation_id} " + who.split(" ")[0]
        try:
            channel = reminder.slack_channel or directory(rt, client).channel_id(reminder.channel)
            _thread_notice(
                client,
                channel=channel,
                thread_ts=reminder.slack_ts,
                text=fallback,
                blocks=[section(text)],
            )
            sent += 1
        except Exception as exc:
            log.error("SLA reminder for %s not delivered: %s", reminder.escalation_id, exc)
        redraw(rt, client, reminder.escalation_id)
        republish(rt, client, escalation_audience(rt, esc))
    return sent


def send_repages(rt: Runtime, client: Any) -> int:
    """Page on-call again for P0/P1 tickets nobody acknowledged within the ack window."""
    from slackapp.home import escalation_audience, republish
    from slackapp.triage import catalogue, on_call_group, page_on_call, redraw
    from tools.escalations import repage

    sent = 0
    for due in repage(rt.store, catalogue(rt), rt.clock()):
        esc = rt.store.get_escalation(due.escalation_id)
        group = on_call_group(rt, client, esc)
        who = " ".join(
            [f"<!subteam^{group}>"] * bool(group) + [f"<@{due.owner_id}>"] * bool(due.owner_id)
        )
        text = (
            f":rotating_light: {due.priority.value} escalation `{due.escalation_id}` is not "
            f"acknowledged after {due.minutes_unacknowledged} min{(' · ' + who) if who else ''}. "
            "Acknowledge it from the card."
        )
        try:
            if esc.slack_channel:
                _thread_notice(
                    client,
                    channel=esc.slack_channel,
                    thread_ts=esc.slack_ts,
                    text=f"Not acknowledged: escalation {due.escalation_id} {who}".strip(),
                    blocks=[section(text)],
                )
            page_on_call(rt, client, esc, why=f"is still not acknowledged (page {due.round + 1})")
            sent += 1
        except Exception as exc:
            log.error("re-page for %s not delivered: %s", due.escalation_id, exc)
        redraw(rt, client, due.escalation_id)
        republish(rt, client, escalation_audience(rt, esc))
    return sent


def expire_proposals(rt: Runtime, client: Any) -> list[str]:
    """Expire pending proposals past their deadline; close their cards and their agent threads.

    `expire_due` transitions each proposal once across replicas and returns only the ones this
    call expired, so each card is closed by exactly one process.
    """
    from agent.interface import Decision, ProposalOutcome
    from slackapp.approvals import ProposalCard, rt_resume
    from slackapp.blocks import ProposalRef
    from slackapp.paging import proposal_changed
    from tools.models import ProposalStatus
    from tools.proposals import expire_due

    expired = expire_due(rt.store, rt.clock())
    for pid in expired:
        proposal_changed(rt, client, pid)
        post = rt.ledger.post("proposal", pid)
        if post is None:  # proposed outside Slack (CLI): nothing to update here
            continue
        proposal = rt.store.get_proposal(pid)
        ref = ProposalRef(
            proposal_id=pid, action_hash=proposal.action_hash, thread_id=post.thread_id
        )
        card = ProposalCard(rt, client, ref, post.channel, post.ts)
        decision = Decision(proposal_id=pid, decision="expire")
        result = rt_resume(rt, post.thread_id, decision)
        if isinstance(result, ProposalOutcome):
            card.update(outcome=result)
        else:
            card.update(
                outcome=ProposalOutcome(
                    proposal_id=pid,
                    status=ProposalStatus.EXPIRED,
                    message="No decision before the deadline; nothing was executed.",
                )
            )
    return expired


def resume_interrupted(rt: Runtime, client: Any, *, stale_after_s: float = 120.0) -> list[str]:
    """Finish fanouts a crash interrupted: approved proposals with no progress for a while.

    The fanout is idempotent and safe with several workers, so resuming one that another
    replica is in fact still running applies nothing twice; `stale_after_s` keeps that rare.
    Only proposals with a Slack card are resumed here (their thread is known); others are
    finished with `warden fanout run PROPOSAL_ID`.
    """
    from sqlalchemy import func, select

    from slackapp.approvals import ProposalCard, execute
    from slackapp.blocks import ProposalRef
    from tools.fanout_tables import FanoutRunRow, LedgerRow
    from tools.tables import ProposalRow

    now = rt.clock()
    with rt.store.session() as s:
        rows = s.execute(
            select(
                ProposalRow.id,
                ProposalRow.action_hash,
                ProposalRow.decided_at,
                FanoutRunRow.started_at,
                select(func.max(LedgerRow.applied_at))
                .where(LedgerRow.proposal_id == ProposalRow.id)
                .scalar_subquery(),
            )
            .outerjoin(FanoutRunRow, FanoutRunRow.proposal_id == ProposalRow.id)
            .where(ProposalRow.status.in_(["approved", "executing"]))
        ).all()
    resumed = []
    for pid, action_hash, *times in rows:
        seen = [t if t.tzinfo else t.replace(tzinfo=now.tzinfo) for t in times if t is not None]
        if pid in rt.running or (seen and (now - max(seen)).total_seconds() < stale_after_s):
            continue
        post = rt.ledger.post("proposal", pid)
        if post is None:
            continue
        ref = ProposalRef(proposal_id=pid, action_hash=action_hash, thread_id=post.thread_id)
        log.warning("resuming proposal %s, interrupted during execution", pid)
        execute(rt, client, ProposalCard(rt, client, ref, post.channel, post.ts))
        resumed.append(pid)
    return resumed


class ReminderLoop:
    """Runs the sweep (reminders, expiries, interrupted fanouts) every `interval_s` until
    stopped; the first sweep runs at start, so a restarted app finishes what a crash left."""

    def __init__(self, rt: Runtime, client: Any, *, interval_s: float = 60.0) -> None:
        self.rt = rt
        self.client = client
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="warden-sla", daemon=True)

    def start(self) -> ReminderLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                send_due_reminders(self.rt, self.client)
            except Exception:
                log.exception("SLA reminder sweep failed; retrying next interval")
            try:
                send_repages(self.rt, self.client)
            except Exception:
                log.exception("on-call re-page sweep failed; retrying next interval")
            try:
                expire_proposals(self.rt, self.client)
            except Exception:
                log.exception("proposal expiry sweep failed; retrying next interval")
            try:
                resume_interrupted(self.rt, self.client)
            except Exception:
                log.exception("resuming interrupted fanouts failed; retrying next interval")
            self._stop.wait(self.interval_s)
