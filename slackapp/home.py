"""App Home: what waits for the viewer, and how the team is doing today."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from slackapp.blocks import USER_ID, Block, check_blocks, context, divider, header, section
from slackapp.escape import escape_untrusted
from tools.models import Escalation, Proposal

log = logging.getLogger(__name__)
MAX_ROWS = 10
HOME_APPROVE = "warden_home_approve"
HOME_REJECT = "warden_home_reject"
HOME_TAKE_NEXT = "warden_home_take_next"  # value: the pod whose oldest, most urgent case to claim


class HomeProposalRef(BaseModel):
    """What Approve / Reject in App Home carry; the card's place comes from the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proposal_id: str
    action_hash: str


@dataclass
class HomeData:
    escalations: list[Escalation] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    headline: str | None = None
    gates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Case work (tools.casework): the viewer's claimed cases; per pod, cases nobody holds.
    claimed: list[Any] = field(default_factory=list)
    unclaimed: dict[str, int] = field(default_factory=dict)
    webhook_dead: int = 0  # webhook events dead-lettered (tools.outbox)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_escalations(store: Any, user: str) -> list[Escalation]:
    """Open escalations the user owns, most urgent SLA first."""
    from tools.store import escalation_from_row
    from tools.tables import EscalationRow

    with store.session() as s:
        rows = s.scalars(
            select(EscalationRow)
            .where(EscalationRow.owner_id == user, EscalationRow.resolved_at.is_(None))
            .order_by(EscalationRow.sla_due_at)
            .limit(MAX_ROWS)
        ).all()
        return [escalation_from_row(r) for r in rows]


def awaiting_approval(store: Any, user: str, approvers: set[str], now: datetime) -> list[Proposal]:
    """Pending, unexpired proposals this user may still approve (not theirs, not yet approved)."""
    from tools.store import proposal_from_row
    from tools.tables import ProposalRow

    if user not in approvers:
        return []
    with store.session() as s:
        rows = s.scalars(
            select(ProposalRow)
            .where(ProposalRow.status == "pending", ProposalRow.requester_id != user)
            .order_by(ProposalRow.expires_at)
            .limit(MAX_ROWS * 3)
        ).all()
        found = [proposal_from_row(s, r) for r in rows]
    return [
        p
        for p in found
        if _utc(p.expires_at) > now and user not in {a.approver_id for a in p.approvals}
    ][:MAX_ROWS]


def gather(rt: Any, user: str) -> HomeData:
    """Read everything App Home shows; a part that fails is named, the rest still shows."""
    now = rt.clock()
    data = HomeData()
    try:
        data.escalations = open_escalations(rt.store, user)
    except Exception as exc:
        log.warning("home: escalations unavailable: %s", exc)
        data.notes.append("Escalations could not be read just now.")
    try:
        data.proposals = awaiting_approval(rt.store, user, rt.approvers.for_display(), now)
    except Exception as exc:
        log.warning("home: proposals unavailable: %s", exc)
        data.notes.append("Proposals could not be read just now.")
    try:
        from slackapp.casework import _catalogue
        from tools.casework import queue

        entries = queue(rt.store, _catalogue(rt), now=now)
        data.claimed = [e for e in entries if e.claimed_by == user]
        for entry in entries:
            if entry.claimed_by is None:
                data.unclaimed[entry.pod] = data.unclaimed.get(entry.pod, 0) + 1
    except Exception as exc:
        log.warning("home: case queue unavailable: %s", exc)
        data.notes.append("The case queue could not be read just now.")
    try:
        subscribers = getattr(rt.settings, "webhooks", None)
        if subscribers:
            from tools.outbox import status

            dead = sum(sub.dead for sub in status(rt.store, subscribers, dead_limit=0).subscribers)
            if dead:
                data.webhook_dead = dead
    except Exception as exc:
        log.warning("home: webhook status unavailable: %s", exc)
    try:
        from tools.kpis import headline

        data.headline = headline(rt.store, now).summary()
    except Exception as exc:
        log.warning("home: KPIs unavailable: %s", exc)
        data.notes.append("Team figures could not be computed just now.")
    try:
        from tools.gates import load_gates, status_rows

        gates = load_gates(rt.settings.gates_file)
        for row in status_rows(rt.store, gates):
            figure = (
                "not evaluated"
                if row.precision is None
                else (f"precision {row.precision:.2f} on {row.support} cases")
            )
            data.gates.append(
                f"`{row.policy_id}` {row.mode.value}"
                + (" (can propose)" if row.can_propose else "")
                + f" · {figure}"
            )
    except Exception as exc:
        log.warning("home: gates unavailable: %s", exc)
    return data


def _sla(esc: Escalation, now: datetime) -> str:
    minutes = int((_utc(esc.sla_due_at) - now).total_seconds() // 60)
    if minutes < 0:
        return f":red_circle: SLA breached {-minutes} min ago"
    return (
        f":large_green_circle: {minutes} min left"
        if minutes > 60
        else f":large_orange_circle: {minutes} min left"
    )


def home_view(data: HomeData, *, now: datetime) -> dict[str, Any]:
    blocks: list[Block] = [header("Warden"), section("*Waiting for you*")]
    if data.escalations:
        lines = [
            f"• `{e.id}` {e.priority.value} · {escape_untrusted(e.pod, limit=40)} · {_sla(e, now)}"
            + (f" · <#{e.slack_channel}>" if e.slack_channel else "")
            for e in data.escalations
        ]
        blocks.append(section("*Your open escalations*\n" + "\n".join(lines)))
        # Act from here too: the same triage steps as on the card (slackapp/triage.py).
        blocks += [_escalation_actions(e) for e in data.escalations[:5]]
    else:
        blocks.append(context("No open escalations assigned to you."))
    if data.proposals:
        lines = [
            f"• `{p.id}` {p.action.value.replace('_', ' ')} × {len(p.actions)} · "
            f"{escape_untrusted(p.policy_id, limit=20)} · "
            f"{len(p.approvals)} of {p.required_approvals} approvals"
            for p in data.proposals
        ]
        blocks.append(section("*Proposals waiting for your approval*\n" + "\n".join(lines)))
        blocks += [_proposal_actions(p) for p in data.proposals[:8]]
    else:
        blocks.append(context("No proposals waiting for your approval."))
    if data.claimed:
        lines = [
            f"• `{escape_untrusted(e.case_id, limit=60)}` {e.priority.value} · "
            f"{escape_untrusted(e.policy_id or '?', limit=20)} · claimed {_ago(e.claimed_at, now)}"
            for e in data.claimed[:MAX_ROWS]
        ]
        blocks.append(section("*Your claimed cases*\n" + "\n".join(lines)))
    else:
        blocks.append(context("No cases claimed by you."))
    if data.unclaimed:
        pods = sorted(data.unclaimed.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        lines = [f"• {escape_untrusted(pod, limit=40)}: {n} waiting" for pod, n in pods]
        blocks.append(section("*Case queues*\n" + "\n".join(lines)))
        blocks.append(_take_next_actions([pod for pod, _n in pods]))
    blocks += [divider(), section("*Team today*\n" + (data.headline or "Figures unavailable."))]
    if data.gates:
        blocks.append(section("*Automation gates*\n" + "\n".join(data.gates[:20])))
    if data.webhook_dead:
        blocks.append(
            context(
                f":rotating_light: {data.webhook_dead} webhook event(s) dead-lettered after "
                "their last attempt: `warden webhooks status` lists them."
            )
        )
    if data.notes:
        blocks.append(context(":warning: " + " ".join(data.notes)))
    check_blocks(blocks)
    return {"type": "home", "blocks": blocks}


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "just now"
    minutes = max(0, int((now - _utc(when)).total_seconds() // 60))
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def _take_next_actions(pods: list[str]) -> Block:
    """Take next: claim the pod's most urgent, oldest unclaimed case (tools.casework decides)."""
    from slackapp.blocks import actions, button

    return actions(
        *(button(f"Take next: {pod}"[:75], HOME_TAKE_NEXT, TakeNextRef(pod=pod)) for pod in pods)
    )


class TakeNextRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pod: str


def take_next(rt: Any, client: Any, *, user: str, pod: str) -> str:
    """Claim the next case of `pod` for `user`; returns what to tell them."""
    from slackapp.casework import _catalogue
    from tools.casework import claim, queue
    from warden.errors import WardenError
    from warden.identity import SettingsDirectory

    catalogue = _catalogue(rt)
    waiting = [e for e in queue(rt.store, catalogue, pod=pod) if e.claimed_by is None]
    if not waiting:
        return f"Nothing waits in the {pod} queue."
    try:
        work = claim(
            rt.store,
            catalogue,
            waiting[0].case_id,
            actor=user,
            directory=SettingsDirectory(rt.settings),
            now=rt.clock(),
            source="slack",
        )
    except WardenError as exc:
        return f"Nothing was claimed: {exc}"
    return (
        f"You claimed case `{work.case_id}` ({waiting[0].priority.value}) from the {pod} queue; "
        f"`/warden recommend {work.case_id}` drafts a decision."
    )


def _proposal_actions(p: Proposal) -> Block:
    """Approve / Reject from App Home: the same store checks as the card (listeners/home.py)."""
    from slackapp.blocks import actions, button

    ref = HomeProposalRef(proposal_id=p.id, action_hash=p.action_hash)
    label = f"{p.id}: {p.action.value.replace('_', ' ')} × {len(p.actions)}"
    confirm = {
        "title": {"type": "plain_text", "text": "Approve this proposal?"},
        "text": {"type": "plain_text", "text": label[:300]},
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return actions(
        button(f"Approve {p.id}", HOME_APPROVE, ref, style="primary", confirm=confirm),
        button(f"Reject {p.id}", HOME_REJECT, ref, style="danger"),
    )


def _escalation_actions(e: Escalation) -> Block:
    from slackapp.blocks import actions, button
    from slackapp.triage import ESC_ACK, ESC_RESOLVE, EscalationRef

    ref = EscalationRef(escalation_id=e.id)
    buttons = [button(f"Resolve {e.id}", ESC_RESOLVE, ref)]
    if e.status.value == "open":
        buttons.insert(0, button(f"Acknowledge {e.id}", ESC_ACK, ref, style="primary"))
    return actions(*buttons)


def publish(rt: Any, client: Any, user: str) -> None:
    data = gather(rt, user)
    client.views_publish(user_id=user, view=home_view(data, now=rt.clock()))


class HomeRefresher:
    """Publishes App Home again for the people a change affects, once per person per burst.

    A change only asks (`request`); people asked for while a refresh is queued join it, so a
    burst of changes (two approvals a second apart, a fanout's progress, a sweep that reminds
    on ten tickets) costs each person one `views.publish`, not one per change. The refresh runs
    in the worker pool `delay_s` after the first request, so `pool.drain` also waits for it.
    """

    def __init__(self, rt: Any, *, delay_s: float = 0.25) -> None:
        self.rt = rt
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._queued = False
        self._client: Any = None
        self.published = 0

    def request(self, client: Any, users: set[str]) -> None:
        # Only Slack users have a Home: a detector requesting through the API has none.
        users = {u for u in users if u and USER_ID.fullmatch(u)}
        if not users:
            return
        with self._lock:
            self._pending |= users
            self._client = client
            if self._queued:
                return
            self._queued = True
        self.rt.pool.submit("app home refresh", self._flush)

    def _flush(self) -> None:
        time.sleep(self.delay_s)
        with self._lock:
            users, self._pending = self._pending, set()
            client, self._queued = self._client, False
        for user in sorted(users):
            try:
                publish(self.rt, client, user)
                self.published += 1
            except Exception as exc:
                log.warning("could not republish App Home for %s: %s", user, exc)


def refresher(rt: Any) -> HomeRefresher:
    """The process's one HomeRefresher (built on first use)."""
    found = rt.extras.get("home_refresher")
    if found is None:
        found = rt.extras.setdefault("home_refresher", HomeRefresher(rt))
    return found  # type: ignore[no-any-return]


def republish(rt: Any, client: Any, users: set[str]) -> None:
    """Publish App Home again for each person whose view a change affects (coalesced)."""
    refresher(rt).request(client, users)


def escalation_audience(rt: Any, esc: Escalation, *also: str | None) -> set[str]:
    """Whose App Home an escalation change affects: its owner and opener, whoever acted or
    held it before, and every approver (they act on escalations from App Home too)."""
    try:
        approvers = set(rt.approvers.for_display())
    except Exception as exc:
        log.warning("approvers unavailable for App Home refresh: %s", exc)
        approvers = set()
    return approvers | {u for u in (esc.owner_id, esc.opened_by, *also) if u}
