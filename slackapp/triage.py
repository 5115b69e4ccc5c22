"""Escalation triage in the pod's channel: the ticket's card, paging on-call, and each step.

The card is drawn from the store every time (state, owner, priority and the audited timeline),
so whoever acts — from the card, App Home or the CLI — the next redraw shows the same ticket.
P0/P1 page people: the route's on-call user group is mentioned on the card and each member of
the group gets a DM with a link to it. Channels are addressed by id: the catalogue's names are
resolved once per process, and a channel that does not exist or that Warden cannot post to is
a clear error to the person who escalated, never a silent drop.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from knowledge.vocabulary import Priority
from slackapp.blocks import Block, check_blocks, context, header, section, when
from slackapp.escape import escape_untrusted
from slackapp.runtime import Runtime
from tools.escalations import PAGED_PRIORITIES, Step
from tools.models import Escalation, EscalationStatus
from warden.errors import WardenError

log = logging.getLogger(__name__)

# action_id / callback_id values the listeners register (slackapp/listeners/escalations.py).
ESC_TAKE = "warden_esc_take"
ESC_ASSIGN = "warden_esc_assign"
ESC_ACK = "warden_esc_ack"
ESC_PRIORITY = "warden_esc_priority"
ESC_NOTE = "warden_esc_note"
ESC_RESOLVE = "warden_esc_resolve"
ESC_REOPEN = "warden_esc_reopen"
NOTE_MODAL = "warden_esc_note_modal"
RESOLVE_MODAL = "warden_esc_resolve_modal"
NOTE_BLOCK, NOTE_INPUT = "note", "note_input"
OUTCOME_BLOCK, OUTCOME_INPUT = "outcome", "outcome_input"
REMEDIATION_BLOCK, REMEDIATION_INPUT = "remediation", "remediation_input"
GAP_BLOCK, GAP_INPUT = "policy_gap", "policy_gap_input"
MAX_TIMELINE = 12

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{6,}")


class ChannelError(WardenError):
    """A route's channel does not exist, or Warden cannot post in it."""


class EscalationRef(BaseModel):
    """What a triage button carries: the ticket id only; the store holds everything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    escalation_id: str


class CardMeta(BaseModel):
    """A triage modal's private_metadata: the ticket, and who to answer if the step fails."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    escalation_id: str
    channel: str | None = None


# -- names to ids ----------------------------------------------------------------------------
class Directory:
    """Channel ids by name and on-call user groups by handle, looked up once per process."""

    def __init__(self, settings: Any, client: Any) -> None:
        self.settings = settings
        self.client = client
        self._lock = threading.Lock()
        self._channels: dict[str, tuple[str, bool]] | None = None
        self._groups: dict[str, str] | None = None

    def _list_channels(self) -> dict[str, tuple[str, bool]]:
        found: dict[str, tuple[str, bool]] = {}
        cursor = None
        while True:
            page = self.client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                **({"cursor": cursor} if cursor else {}),
            )
            for ch in page["channels"]:
                found[str(ch["name"])] = (str(ch["id"]), bool(ch.get("is_member")))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    def channel_id(self, name: str) -> str:
        """The id of a channel named in the catalogue ("#ts-oncall" or already an id)."""
        bare = name.strip().lstrip("#")
        if _CHANNEL_ID.fullmatch(bare):
            return bare
        if bare in self.settings.slack_channels:
            return str(self.settings.slack_channels[bare])
        with self._lock:
            if self._channels is None or bare not in self._channels:
                self._channels = self._list_channels()
            found = self._channels.get(bare)
        shown = escape_untrusted(bare, limit=80)
        if found is None:
            raise ChannelError(
                f"Slack has no channel #{shown}; fix the catalogue's escalation channel or "
                f"create the channel (or map it in WARDEN_SLACK_CHANNELS)."
            )
        channel, member = found
        if not member:
            raise ChannelError(
                f"Warden is not in #{shown}; invite it there with `/invite @Warden`."
            )
        return channel

    def group_id(self, handle: str | None) -> str | None:
        """The subteam id of an on-call group (settings first, then usergroups.list)."""
        if not handle:
            return None
        bare = handle.strip().lstrip("@")
        if _GROUP_ID.fullmatch(bare):
            return bare
        if bare in self.settings.oncall_groups:
            return str(self.settings.oncall_groups[bare])
        with self._lock:
            if self._groups is None:
                try:
                    listed = self.client.usergroups_list(include_users=False)
                    self._groups = {str(g["handle"]): str(g["id"]) for g in listed["usergroups"]}
                except Exception as exc:
                    log.warning("on-call groups unavailable: %s", exc)
                    return None
            return self._groups.get(bare)

    def members(self, group_id: str) -> list[str]:
        try:
            return [str(u) for u in self.client.usergroups_users_list(usergroup=group_id)["users"]]
        except Exception as exc:
            log.warning("members of %s unavailable: %s", group_id, exc)
            return []


def directory(rt: Runtime, client: Any) -> Directory:
    """The process's one Directory (built on first use)."""
    found = rt.extras.get("directory")
    if found is None:
        found = rt.extras.setdefault("directory", Directory(rt.settings, client))
    return found  # type: ignore[no-any-return]


def catalogue(rt: Runtime) -> Any:
    """The policy catalogue (read once; routes, on-call groups and ack windows live there)."""
    found = rt.extras.get("catalogue")
    if found is None:
        from knowledge.catalogue import load_catalogue

        found = rt.extras.setdefault("catalogue", load_catalogue(rt.settings.catalogue_dir))
    return found


def on_call_group(rt: Runtime, client: Any, esc: Escalation) -> str | None:
    """The subteam id paged for this ticket (P0/P1 only), if the route names one."""
    if esc.priority not in PAGED_PRIORITIES or esc.policy_id is None:
        return None
    try:
        handle = catalogue(rt).policy(esc.policy_id).escalation.on_call_group
    except Exception as exc:
        log.warning("no on-call route for %s: %s", esc.id, exc)
        return None
    return directory(rt, client).group_id(handle)


# -- the card ----------------------------------------------------------------------------------
def _nonce() -> str:
    # Slack keeps a select's chosen value per block_id across chat.update: new ids each redraw.
    return uuid.uuid4().hex[:8]


def _step_line(step: Step) -> str:
    who = f"<@{escape_untrusted(step.actor, limit=30)}>"
    at = when(step.at)
    d = step.details

    def text(key: str, limit: int = 300) -> str:
        return escape_untrusted(str(d.get(key) or ""), limit=limit)

    lines = {
        "opened": f"opened by {who}",
        "take": f"taken by {who}",
        "reassign": f"assigned to <@{text('owner_id', 30)}> by {who}",
        "acknowledge": f"acknowledged by {who}",
        "priority": f"priority {text('from', 4)} → {text('to', 4)} by {who}",
        "note": f"note by {who}: _{text('note')}_",
        "resolve": f"resolved by {who}: {text('resolution')}"
        + (f" · remediation: {text('remediation')}" if d.get("remediation") else "")
        + (" · *policy gap found*" if d.get("policy_gap") else ""),
        "reopen": f"reopened by {who}" + (f": {text('reason')}" if d.get("reason") else ""),
        "reminded": f"SLA reminder (breach level {text('level', 3)})",
        "repaged": "on-call re-paged (not acknowledged in time)",
    }
    return f"• {at} {lines.get(step.verb, escape_untrusted(step.verb, limit=40))}"


def card_blocks(
    esc: Escalation,
    steps: list[Step],
    *,
    channel_id: str | None,
    group_id: str | None,
) -> list[Block]:
    """The ticket's card: what it is, where it stands, what happened, and what to do next."""
    owner = f"<@{esc.owner_id}>" if esc.owner_id else "unassigned"
    flag = " · on-call" if esc.on_call else ""
    sections = ", ".join(f"`{escape_untrusted(s, limit=30)}`" for s in esc.section_ids[:8]) or "—"
    routed = f"<#{channel_id}>" if channel_id else escape_untrusted(esc.channel, limit=80)
    state = esc.status.value
    if esc.status == EscalationStatus.ACKNOWLEDGED and esc.acknowledged_at:
        state += f" {when(esc.acknowledged_at)}"
    if esc.status == EscalationStatus.RESOLVED and esc.resolved_at:
        state += f" {when(esc.resolved_at)}"
    blocks: list[Block] = [header(f"Escalation {esc.id} · {esc.priority.value}{flag}")]
    if group_id and esc.status != EscalationStatus.RESOLVED:
        need = "needs an owner" if not esc.owner_id else "is waiting for acknowledgement"
        if esc.status == EscalationStatus.ACKNOWLEDGED:
            need = "is being handled"
        blocks.append(
            section(f":rotating_light: <!subteam^{group_id}> {esc.priority.value} {need}.")
        )
    blocks += [
        section(
            f"Opened by <@{esc.opened_by}> {when(esc.opened_at)}"
            + (f" for case `{escape_untrusted(esc.case_id, limit=60)}`" if esc.case_id else ""),
            fields=[
                f"*Priority*\n{esc.priority.value}{flag}",
                f"*State*\n{state}",
                f"*Owner*\n{owner}",
                f"*SLA due*\n{when(esc.sla_due_at)}",
                f"*Pod*\n{escape_untrusted(esc.pod, limit=60)}",
                f"*Routed to*\n{routed}",
                f"*Sections*\n{sections}",
            ],
        ),
        section("*What is known*\n" + escape_untrusted(esc.summary, limit=2800)),
    ]
    shown = steps[-MAX_TIMELINE:]
    if shown:
        lines = [_step_line(s) for s in shown]
        if len(steps) > len(shown):
            lines.insert(0, f"…{len(steps) - len(shown)} earlier steps (`warden audit export`)")
        blocks.append(section("*Timeline*\n" + "\n".join(lines)))
    blocks.append(context(f"Status: *{esc.status.value}*"))
    blocks.append(_triage_actions(esc))
    check_blocks(blocks)
    return blocks


def _button(text: str, action_id: str, esc: Escalation, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": EscalationRef(escalation_id=esc.id).model_dump_json(),
    }
    if style:
        element["style"] = style
    return element


def _triage_actions(esc: Escalation) -> Block:
    if esc.status == EscalationStatus.RESOLVED:
        elements = [_button("Reopen", ESC_REOPEN, esc), _button("Add note", ESC_NOTE, esc)]
    else:
        elements = []
        if esc.status == EscalationStatus.OPEN:
            elements.append(_button("Acknowledge", ESC_ACK, esc, style="primary"))
        elements += [
            _button("Take", ESC_TAKE, esc),
            {
                "type": "users_select",
                "action_id": ESC_ASSIGN,
                "placeholder": {"type": "plain_text", "text": "Assign"},
                **({"initial_user": esc.owner_id} if esc.owner_id else {}),
            },
            {
                "type": "static_select",
                "action_id": ESC_PRIORITY,
                "placeholder": {"type": "plain_text", "text": "Change priority"},
                "options": [
                    {"text": {"type": "plain_text", "text": p.value}, "value": p.value}
                    for p in Priority
                    if p != esc.priority
                ],
            },
            _button("Add note", ESC_NOTE, esc),
            _button("Resolve", ESC_RESOLVE, esc),
        ]
    return {"type": "actions", "block_id": f"esc_triage_{_nonce()}", "elements": elements}


def card_text(esc: Escalation, group_id: str | None) -> str:
    """The notification text: the group mention pages on-call (only Warden's own tokens)."""
    text = f"Escalation {esc.id} ({esc.priority.value}, {esc.status.value})"
    if group_id and esc.status == EscalationStatus.OPEN:
        text += f" <!subteam^{group_id}>"
    return text


def draw(rt: Runtime, client: Any, esc: Escalation) -> tuple[str, list[Block]]:
    from tools.escalations import timeline

    group = on_call_group(rt, client, esc)
    try:
        channel_id: str | None = esc.slack_channel or directory(rt, client).channel_id(esc.channel)
    except Exception:
        channel_id = None
    steps = timeline(rt.store, esc.id)
    return card_text(esc, group), card_blocks(esc, steps, channel_id=channel_id, group_id=group)


# -- posting -----------------------------------------------------------------------------------
def open_dm(client: Any, user: str) -> str:
    return str(client.conversations_open(users=user)["channel"]["id"])


def dm(client: Any, user: str, text: str, blocks: list[Block]) -> None:
    """A direct message from Warden (logged, never raised: a DM is a courtesy beside the card).
    `text` is its notification line, escaped like blocks; the blocks come built."""
    try:
        client.chat_postMessage(
            channel=open_dm(client, user), text=escape_untrusted(text, limit=300), blocks=blocks
        )
    except Exception as exc:
        log.warning("could not DM %s: %s", user, exc)


def permalink(client: Any, channel: str, ts: str) -> str | None:
    try:
        return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except Exception as exc:
        log.warning("no permalink for %s/%s: %s", channel, ts, exc)
        return None


def page_on_call(rt: Runtime, client: Any, esc: Escalation, *, why: str) -> int:
    """DM each member of the ticket's on-call group a link to the card; returns how many."""
    group = on_call_group(rt, client, esc)
    if group is None or not esc.slack_channel or not esc.slack_ts:
        return 0
    link = permalink(client, esc.slack_channel, esc.slack_ts)
    where = f"<{link}|the ticket>" if link else f"the ticket in <#{esc.slack_channel}>"
    text = (
        f":rotating_light: {esc.priority.value} escalation `{esc.id}` {why}. "
        f"Open {where} to take and acknowledge it."
    )
    members = directory(rt, client).members(group)
    for user in members:
        dm(client, user, f"{esc.priority.value} escalation {esc.id}", [section(text)])
    return len(members)


def post_ticket(
    rt: Runtime, client: Any, esc: Escalation, *, tell: Callable[[str], None]
) -> tuple[str, str] | None:
    """Post the card to the route's channel and page on-call; `tell` explains a failure."""
    from tools.escalations import set_slack_message

    try:
        channel = directory(rt, client).channel_id(esc.channel)
        text, blocks = draw(rt, client, esc)
        posted = client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except ChannelError as exc:
        tell(f"Escalation {esc.id} is open, but it was not posted: {exc} Tell the pod directly.")
        return None
    except Exception as exc:
        from slackapp.delivery import slack_error

        log.warning("could not post escalation %s to %s: %s", esc.id, esc.channel, exc)
        error = slack_error(exc)
        tell(
            f"Escalation {esc.id} is open, but posting it to "
            f"{escape_untrusted(esc.channel, limit=80)} failed ({error or 'Slack error'}); "
            "tell the pod directly."
        )
        return None
    where = (str(posted["channel"]), str(posted["ts"]))
    try:
        set_slack_message(rt.store, esc.id, channel=where[0], ts=where[1])
    except WardenError as exc:
        log.warning("could not record where escalation %s was posted: %s", esc.id, exc)
        return where
    if esc.priority in PAGED_PRIORITIES:
        page_on_call(rt, client, rt.store.get_escalation(esc.id), why="was opened")
    return where


def redraw(rt: Runtime, client: Any, escalation_id: str) -> None:
    """Update the ticket's card in place from the store (after any step, by anyone)."""
    esc = rt.store.get_escalation(escalation_id)
    if not esc.slack_channel or not esc.slack_ts:
        return
    text, blocks = draw(rt, client, esc)
    try:
        client.chat_update(channel=esc.slack_channel, ts=esc.slack_ts, text=text, blocks=blocks)
    except Exception as exc:
        log.warning("could not update the card of %s: %s", escalation_id, exc)


# -- steps -------------------------------------------------------------------------------------
def run_step(
    rt: Runtime,
    client: Any,
    *,
    step: str,
    escalation_id: str,
    user: str,
    answer: Callable[[str], None],
    value: str | None = None,
    outcome: str = "",
    remediation: str | None = None,
    policy_gap: bool = False,
) -> Escalation | None:
    """One triage step from Slack: the store decides, the card redraws, refusals are answered."""
    from tools import escalations as tickets

    now = rt.clock()
    try:
        before = rt.store.get_escalation(escalation_id).owner_id
        if step == "take":
            esc = tickets.take(rt.store, escalation_id, user_id=user, now=now)
        elif step == "assign":
            if not value:
                raise WardenError("Pick someone to assign it to.")
            esc = tickets.reassign(rt.store, escalation_id, owner_id=value, by=user, now=now)
        elif step == "ack":
            esc = tickets.acknowledge(rt.store, escalation_id, user_id=user, now=now)
        elif step == "priority":
            try:
                chosen = Priority(value or "")
            except ValueError:
                raise WardenError(f"Unknown priority {value!r}.") from None
            esc = tickets.set_priority(
                rt.store, catalogue(rt), escalation_id, priority=chosen, by=user, now=now
            )
        elif step == "note":
            esc = tickets.add_note(rt.store, escalation_id, by=user, text=value or "", now=now)
        elif step == "resolve":
            esc = tickets.resolve(
                rt.store,
                escalation_id,
                by=user,
                resolution=outcome,
                remediation=remediation,
                policy_gap=policy_gap,
                now=now,
            )
        elif step == "reopen":
            esc = tickets.reopen(rt.store, escalation_id, by=user, now=now)
        else:
            raise WardenError(f"Unknown step {step!r}.")
    except WardenError as exc:
        answer(f"Nothing changed on {escalation_id}: {exc}")
        return None
    redraw(rt, client, esc.id)
    if step == "priority" and esc.priority in PAGED_PRIORITIES:
        page_on_call(rt, client, esc, why=f"was raised to {esc.priority.value}")
    from slackapp.home import escalation_audience, republish

    republish(rt, client, escalation_audience(rt, esc, user, before))
    return esc


def note_modal(meta: CardMeta) -> Block:
    return {
        "type": "modal",
        "callback_id": NOTE_MODAL,
        "private_metadata": meta.model_dump_json(),
        "title": {"type": "plain_text", "text": "Add a note"},
        "submit": {"type": "plain_text", "text": "Add"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "label": {"type": "plain_text", "text": "Note (it goes on the ticket's timeline)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_INPUT,
                    "multiline": True,
                    "max_length": 2000,
                },
            }
        ],
    }


def resolve_modal(meta: CardMeta) -> Block:
    return {
        "type": "modal",
        "callback_id": RESOLVE_MODAL,
        "private_metadata": meta.model_dump_json(),
        "title": {"type": "plain_text", "text": "Resolve escalation"},
        "submit": {"type": "plain_text", "text": "Resolve"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": OUTCOME_BLOCK,
                "label": {"type": "plain_text", "text": "Outcome"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": OUTCOME_INPUT,
                    "max_length": 500,
                    "placeholder": {"type": "plain_text", "text": "e.g. removed, no violation"},
                },
            },
            {
                "type": "input",
                "block_id": REMEDIATION_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Remediation"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REMEDIATION_INPUT,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
            {
                "type": "input",
                "block_id": GAP_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Policy gap"},
                "element": {
                    "type": "checkboxes",
                    "action_id": GAP_INPUT,
                    "options": [
                        {
                            "text": {"type": "plain_text", "text": "Policy gap found"},
                            "description": {
                                "type": "plain_text",
                                "text": "The policy did not cover this case; the policy team "
                                "is told in the audit trail.",
                            },
                            "value": "gap",
                        }
                    ],
                },
            },
        ],
    }
