"""Block Kit builders for every card Warden posts, plus a plain-text renderer for transcripts.

Untrusted text (case content, model output, policy excerpts, user input) goes through
`escape_untrusted` before it reaches a block; Warden's own labels do not need it.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.interface import (
    Citation,
    EscalationOpened,
    PolicyAnswer,
    ProposalOutcome,
    ProposalPending,
    Recommendation,
    Refusal,
)
from slackapp.escape import escape_untrusted
from tools.models import (
    BlastRadius,
    FanoutProgress,
    Proposal,
    ProposalStatus,
    StrikeEffect,
)

Block = dict[str, Any]
# A Slack user id as it may appear in a request or a card: U or W, then letters and digits.
USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")

# Block Kit limits (https://api.slack.com/reference/block-kit): enforced by `check_blocks`.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 3000

# action_id values the listeners register.
APPROVE = "warden_approve"
REJECT = "warden_reject"
APPLY = "warden_apply"
DECIDE = "warden_decide"  # issue 11: the clicker's own decision (no gate, no other approver)
NOT_VIOLATING = "warden_not_violating"
ESCALATE_CASE = "warden_escalate_case"
ESCALATE_QUESTION = "warden_escalate_question"
REJECT_MODAL = "warden_reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"

SAMPLE_ROWS = 5
MAX_EXCERPT = 160


class ProposalRef(BaseModel):
    """What an Approve / Reject button carries: ids only; the store holds everything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proposal_id: str
    action_hash: str
    thread_id: str


class CaseRef(BaseModel):
    """What Apply / Escalate on a recommendation carry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    thread_id: str
    action: str | None = None
    section: str | None = None
    policy: str | None = None  # Not violating: whose exceptions the decision modal offers


class QuestionRef(BaseModel):
    """Escalate on an answer: the question itself is kept server-side (any length), by id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thread_id: str
    question_id: str


class TargetsRef(BaseModel):
    """Which proposal's full target list to show, and which page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proposal_id: str
    page: int = 0


VIEW_TARGETS = "warden_view_targets"
TARGETS_PAGE = 25


def targets_modal(proposal: Proposal, page: int) -> Block:
    """Every target of a proposal, a page at a time (Previous / Next update the modal)."""
    pages = max(1, -(-len(proposal.actions) // TARGETS_PAGE))
    page = min(max(page, 0), pages - 1)
    chunk = proposal.actions[page * TARGETS_PAGE : (page + 1) * TARGETS_PAGE]
    lines = [
        f"{page * TARGETS_PAGE + i + 1}. {a.target_type} "
        f"`{escape_untrusted(a.target_id, limit=60)}` → {a.action.value.replace('_', ' ')} "
        f"({escape_untrusted(a.section_id, limit=20)})"
        for i, a in enumerate(chunk)
    ]
    nav = []
    if page > 0:
        nav.append(
            button("Previous", VIEW_TARGETS, TargetsRef(proposal_id=proposal.id, page=page - 1))
        )
    if page < pages - 1:
        nav.append(button("Next", VIEW_TARGETS, TargetsRef(proposal_id=proposal.id, page=page + 1)))
    blocks: list[Block] = [
        section(
            f"Proposal `{escape_untrusted(proposal.id, limit=60)}`: "
            f"{len(proposal.actions)} targets · page {page + 1} of {pages}"
        ),
        section("\n".join(lines) or "_(no targets)_"),
    ]
    if nav:
        blocks.append(actions(*nav))
    return {
        "type": "modal",
        "callback_id": "warden_targets",
        "title": {"type": "plain_text", "text": "All targets"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
    }


class RejectMeta(BaseModel):
    """The reject modal's private_metadata: which card to update after the decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proposal_id: str
    action_hash: str
    thread_id: str
    channel: str
    message_ts: str


# -- primitives ----------------------------------------------------------------------------
def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER)}}


def section(text: str, *, fields: list[str] | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}}
    if fields:
        block["fields"] = [
            {"type": "mrkdwn", "text": _clip(f, MAX_FIELD_TEXT)} for f in fields[:MAX_FIELDS]
        ]
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": _clip(t, MAX_SECTION_TEXT)}
            for t in texts[:MAX_CONTEXT_ELEMENTS]
        ],
    }


def mention(user_id: str | None) -> str:
    """`<@U…>` for a Slack user id; anything else is shown as inert text, never as markup."""
    if user_id and USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return f"`{escape_untrusted(user_id or '?', limit=120).replace('`', 'ˋ')}`"


# mrkdwn's emphasis marks, swapped for look-alikes so quoted content cannot format itself.
_INERT = str.maketrans({"*": "∗", "_": "ˍ", "~": "˜", "`": "ˋ"})


def quote(text: str, limit: int) -> Block:
    """A context block quoting untrusted text on one line: escaped (no mentions, no links) and
    without emphasis, so it cannot pass for a line or a verdict of Warden's own."""
    flat = " ".join(unicodedata.normalize("NFKC", text).split()).translate(_INERT)
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"“{escape_untrusted(flat, limit=limit)}”"}],
    }


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: BaseModel,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": _clip(text, MAX_BUTTON_TEXT)},
        "action_id": action_id,
        "value": value.model_dump_json(),
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    # A fresh block_id on every draw: Slack keeps element state per block_id across updates.
    block_id = block_id or f"actions_{uuid.uuid4().hex[:8]}"
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def _when(at: datetime) -> str:
    """A Slack date token (shown in the reader's time zone) with a UTC fallback."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


when = _when  # the same date token, for the other card modules (slackapp/triage.py)


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


Links = Mapping[tuple[str, str], str]  # (policy id, version) -> published url (slackapp.links)


def _citation_lines(citations: list[Citation], links: Links | None = None) -> list[str]:
    lines = []
    for c in citations[:10]:
        title = escape_untrusted(c.title, limit=120)
        sid = escape_untrusted(c.section_id, limit=40)
        pol = escape_untrusted(c.policy_id, limit=20)
        ver = escape_untrusted(c.policy_version, limit=10)
        url = _policy_url(
            getattr(c, "url", None) or (links or {}).get((c.policy_id, c.policy_version))
        )
        lines.append(f"• {f'<{url}|{sid}>' if url else f'`{sid}`'} {title} — {pol} v{ver}")
    return lines


def _policy_url(url: object) -> str | None:
    """A policy's own https link (front matter `url`), or None if it is not a plain one."""
    if not isinstance(url, str) or not url.startswith("https://") or len(url) > 500:
        return None
    return None if any(ch in url for ch in "<>|\n \t") else url


def _strike_line(effect: StrikeEffect) -> str:
    account = escape_untrusted(effect.account_id, limit=60)
    line = (
        f"• `{account}`: {effect.active_before} → {effect.active_after} active "
        f"strike{'s' if effect.active_after != 1 else ''} ({effect.window_days}-day window)"
    )
    if effect.threshold_crossed is not None:
        line += f" → *crosses into {effect.threshold_crossed.value.replace('_', ' ')}*"
    return line


# -- cards -------------------------------------------------------------------------------------
def answer_blocks(
    answer: PolicyAnswer,
    *,
    thread_id: str,
    question_id: str | None = None,
    links: Links | None = None,
) -> list[Block]:
    blocks: list[Block] = []
    # Excerpts must be labelled as such; the agent usually says so in its first line already.
    if answer.mode == "excerpts" and "excerpt" not in answer.text.split("\n", 1)[0].lower():
        blocks.append(
            context(
                ":page_facing_up: *Policy excerpts* (no-LLM mode): "
                "quoted sections, not a written answer."
            )
        )
    blocks.append(section(escape_untrusted(answer.text, limit=MAX_SECTION_TEXT) or "_(no text)_"))
    if answer.citations:
        blocks.append(section("*Sources*\n" + "\n".join(_citation_lines(answer.citations, links))))
    else:
        blocks.append(context(":warning: No policy section supports an answer to this."))
    notes = []
    if answer.low_confidence:
        notes.append(":warning: Low confidence: the closest policy sections are a weak match.")
    if answer.removed_citations:
        removed = ", ".join(escape_untrusted(s, limit=40) for s in answer.removed_citations[:10])
        notes.append(
            f":no_entry: Removed citations that were not retrieved for this question: {removed}"
        )
    if notes:
        blocks.append(context(*notes))
    if answer.offer_escalation and question_id:
        ref = QuestionRef(thread_id=thread_id, question_id=question_id)
        blocks.append(actions(button("Escalate to Policy", ESCALATE_QUESTION, ref)))
    blocks.append(feedback_block())
    return blocks


def recommendation_blocks(
    rec: Recommendation, *, thread_id: str, links: Links | None = None
) -> list[Block]:
    case = escape_untrusted(rec.case_id, limit=60)
    verdict = {
        "violating": "Violating",
        "not_violating": "Not violating",
        "borderline": "Borderline",
    }
    policy = "—"
    if rec.policy_id:
        policy = escape_untrusted(rec.policy_id, limit=20)
        if rec.policy_version:
            policy += f" v{escape_untrusted(rec.policy_version, limit=10)}"
    sections = ", ".join(f"`{escape_untrusted(s, limit=30)}`" for s in rec.section_ids[:8]) or "—"
    action = rec.action.value.replace("_", " ") if rec.action else "no action"
    blocks: list[Block] = [header(f"Recommendation · case {rec.case_id}")]
    # A rules-based draft must say so; skip our banner when the agent's note already does.
    if rec.mode == "rules" and "rules" not in (rec.note or "").lower():
        blocks.append(
            context(
                ":clipboard: *Draft from the policy catalogue's rules* (no LLM): low confidence, "
                "never executed without an approved proposal."
            )
        )
    blocks.append(
        section(
            f"*Case* `{case}`",
            fields=[
                f"*Verdict*\n{verdict[rec.verdict]}",
                f"*Action*\n{action}",
                f"*Policy*\n{policy}",
                f"*Sections*\n{sections}",
                f"*Severity*\n{escape_untrusted(rec.severity, limit=30) or '—'}",
                f"*Confidence*\n{_pct(rec.confidence)}",
            ],
        )
    )
    if rec.strike_effects:
        lines = [_strike_line(e) for e in rec.strike_effects[:10]]
        blocks.append(section("*Strike effect*\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Strike effect*\nNo strikes change."))
    blocks.append(section("*Rationale*\n" + escape_untrusted(rec.rationale, limit=2800)))
    if rec.citations:
        blocks.append(context("*Sources* " + "  ".join(_citation_lines(rec.citations, links))))
    if rec.note:
        blocks.append(context(":information_source: " + escape_untrusted(rec.note, limit=500)))
    buttons = []
    # Imminent harm (or the agent advising escalation): Escalate comes first, as the primary.
    escalate = button(
        "Escalate",
        ESCALATE_CASE,
        CaseRef(case_id=rec.case_id, thread_id=thread_id),
        style="primary" if rec.escalate else None,
    )
    if rec.escalate:
        buttons.append(escalate)
    if rec.action is not None and rec.verdict != "not_violating":
        ref = CaseRef(case_id=rec.case_id, thread_id=thread_id, action=rec.action.value)
        if rec.section_ids:
            mine = ref.model_copy(update={"section": rec.section_ids[0]})
            style = None if rec.escalate else "primary"
            buttons.append(button(f"Apply as my decision: {action}", DECIDE, mine, style=style))
        buttons.append(button(f"Propose {action} for approval", APPLY, ref))
    # Not violating opens a modal for the ground (reason, exception). A draft that is not
    # "violating" lists the exception it rests on last: the modal offers it first.
    grounded = rec.verdict != "violating" and rec.section_ids
    cleared = CaseRef(
        case_id=rec.case_id,
        thread_id=thread_id,
        policy=rec.policy_id,
        section=rec.section_ids[-1] if grounded else None,
    )
    buttons.append(button("Not violating", NOT_VIOLATING, cleared))
    if not rec.escalate:
        buttons.append(escalate)
    if rec.escalate:
        blocks.append(context(":rotating_light: Warden suggests escalating this case."))
    blocks.append(actions(*buttons))
    blocks.append(feedback_block())
    return blocks


FEEDBACK = "warden_feedback"


def feedback_block() -> Block:
    """Slack's thumbs up / down under an answer (stored with the answer, slackapp/feedback.py)."""
    return {
        "type": "context_actions",
        "block_id": f"feedback_{uuid.uuid4().hex[:8]}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "Helpful"},
                    "accessibility_label": "This answer was helpful",
                    "value": "good",
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "Not helpful"},
                    "accessibility_label": "This answer was not helpful",
                    "value": "bad",
                },
            }
        ],
    }


def _progress_line(progress: FanoutProgress) -> str:
    done = progress.applied + progress.failed
    width = 20
    filled = round(width * done / progress.total) if progress.total else width
    bar = "█" * filled + "░" * (width - filled)
    return (
        f"`{bar}` {done} / {progress.total} · {progress.applied} applied · {progress.failed} failed"
    )


def proposal_blocks(
    proposal: Proposal,
    blast: BlastRadius,
    *,
    thread_id: str,
    progress: FanoutProgress | None = None,
    outcome: ProposalOutcome | None = None,
    note: str | None = None,
) -> list[Block]:
    """The approval card; it shows the decision buttons only while the proposal is pending."""
    status = outcome.status if outcome else proposal.status
    action = proposal.action.value.replace("_", " ")
    sections = ", ".join(f"`{escape_untrusted(s, limit=30)}`" for s in proposal.section_ids[:8])
    source = ""
    if proposal.cluster_id:
        source = f" · cluster `{escape_untrusted(proposal.cluster_id, limit=60)}`"
    elif proposal.case_id:
        source = f" · case `{escape_untrusted(proposal.case_id, limit=60)}`"
    approvals = (
        ", ".join(f"{mention(a.approver_id)} {_when(a.decided_at)}" for a in proposal.approvals)
        or "none yet"
    )
    blocks: list[Block] = [
        header(f"Proposal {proposal.id}: {action} × {blast.total_actions}"),
        section(
            f"Requested by {mention(proposal.requester_id)}{source}",
            fields=[
                f"*Action*\n{action}",
                f"*Policy*\n{escape_untrusted(proposal.policy_id, limit=20)} "
                f"v{escape_untrusted(proposal.policy_version, limit=10)} · {sections}",
                f"*Blast radius*\n{blast.content_count} items · {blast.account_count} accounts",
                f"*Approvals*\n{len(proposal.approvals)} of {proposal.required_approvals}"
                + (" (critical harm: two approvers)" if proposal.required_approvals > 1 else ""),
                f"*Expires*\n{_when(proposal.expires_at)}",
                f"*Status*\n{status.value}",
            ],
        ),
    ]
    sample = []
    excerpts: list[Block] = []
    for n, item in enumerate(blast.sample[:SAMPLE_ROWS], start=1):
        target = escape_untrusted(item.target_id, limit=60)
        line = f"{n}. {item.target_type} `{target}` → {item.action.value.replace('_', ' ')}"
        sample.append(line)
        excerpt = blast.sample_texts.get(item.target_id, "")
        if excerpt.strip():
            # Content is quoted on one line of plain text: it cannot add lines, bold "verdicts"
            # or links that read as Warden's own words on the card.
            excerpts.append(quote(f"{n}. {excerpt}", MAX_EXCERPT))
    more = blast.total_actions - len(sample)
    if sample:
        text = "*Sample*\n" + "\n".join(sample)
        if more > 0:
            text += f"\n…and {more} more"
        blocks.append(section(text))
        blocks.extend(excerpts)
        if more > 0:
            targets = TargetsRef(proposal_id=proposal.id, page=0)
            label = f"View all {blast.total_actions} targets"
            blocks.append(actions(button(label, VIEW_TARGETS, targets)))
    crossing = blast.accounts_crossing
    if crossing:
        lines = [_strike_line(e) for e in crossing[:10]]
        if len(crossing) > 10:
            lines.append(f"…and {len(crossing) - 10} more accounts")
        blocks.append(
            section(
                f"*Accounts crossing a strike threshold* ({len(crossing)})\n" + "\n".join(lines)
            )
        )
    elif blast.strike_effects:
        blocks.append(
            section(
                f"*Strikes*\n{len(blast.strike_effects)} accounts gain a strike; "
                "none crosses a threshold."
            )
        )
    else:
        blocks.append(context("No account gains a strike from this action."))
    blocks.append(context(f"Approved so far: {approvals}"))
    if status == ProposalStatus.REJECTED and proposal.decided_by:
        reason = escape_untrusted(proposal.reject_reason or "", limit=300)
        at = f" {_when(proposal.decided_at)}" if proposal.decided_at else ""
        blocks.append(context(f":x: Rejected by <@{proposal.decided_by}>{at}: {reason}"))
    if note:
        blocks.append(context(escape_untrusted(note, limit=500)))
    if progress is not None and outcome is None:
        blocks.append(section(":hourglass_flowing_sand: *Executing*\n" + _progress_line(progress)))
    if outcome is not None:
        blocks.append(section(outcome_text(outcome)))
    if status == ProposalStatus.PENDING and outcome is None:
        ref = ProposalRef(
            proposal_id=proposal.id, action_hash=proposal.action_hash, thread_id=thread_id
        )
        confirm = {
            "title": {"type": "plain_text", "text": "Approve this proposal?"},
            "text": {
                "type": "mrkdwn",
                "text": f"This will {action} {blast.total_actions} targets "
                f"({blast.content_count} items, {blast.account_count} accounts)"
                + (f"; {len(crossing)} accounts cross a strike threshold." if crossing else "."),
            },
            "confirm": {"type": "plain_text", "text": "Approve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "primary",
        }
        blocks.append(
            actions(
                button("Approve", APPROVE, ref, style="primary", confirm=confirm),
                button("Reject", REJECT, ref, style="danger"),
            )
        )
    return blocks


def outcome_text(outcome: ProposalOutcome) -> str:
    icon = {
        ProposalStatus.EXECUTED: ":white_check_mark:",
        ProposalStatus.REJECTED: ":x:",
        ProposalStatus.EXPIRED: ":hourglass:",
        ProposalStatus.FAILED: ":warning:",
    }.get(outcome.status, ":information_source:")
    text = f"{icon} *{outcome.status.value.capitalize()}*"
    if outcome.status in (ProposalStatus.EXECUTED, ProposalStatus.FAILED):
        text += f": {outcome.applied} applied, {outcome.failed} failed"
    if outcome.message:
        text += "\n" + escape_untrusted(outcome.message, limit=1500)
    return text


def refusal_blocks(reason: str) -> list[Block]:
    return [section(":no_entry_sign: " + escape_untrusted(reason, limit=2900))]


def error_blocks(message: str) -> list[Block]:
    return [section(":warning: " + escape_untrusted(message, limit=2900))]


def reject_modal(meta: RejectMeta) -> Block:
    """The modal asking why a proposal is rejected (the reason is audited)."""
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": meta.model_dump_json(),
        "title": {"type": "plain_text", "text": "Reject proposal"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(
                f"Rejecting proposal `{escape_untrusted(meta.proposal_id, limit=60)}`. "
                "Nothing will be executed."
            ),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why is it rejected?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "min_length": 3,
                    "max_length": 1000,
                },
            },
        ],
    }


def response_blocks(
    response: PolicyAnswer
    | Recommendation
    | EscalationOpened
    | ProposalPending
    | ProposalOutcome
    | Refusal,
    *,
    thread_id: str,
    question_id: str | None = None,
    links: Links | None = None,
) -> tuple[str, list[Block]]:
    """The notification text and blocks for any agent response (citations link to `links`)."""
    if isinstance(response, PolicyAnswer):
        text = escape_untrusted(response.text, limit=300)
        return text, answer_blocks(
            response, thread_id=thread_id, question_id=question_id, links=links
        )
    if isinstance(response, Recommendation):
        case = escape_untrusted(response.case_id, limit=60)
        return f"Recommendation for case {case}", recommendation_blocks(
            response, thread_id=thread_id, links=links
        )
    if isinstance(response, EscalationOpened):
        # The full ticket goes to the pod's channel (conversation.route_escalation); the
        # requester's thread gets a short receipt rather than a second copy of the card.
        esc = response.escalation
        owner = mention(esc.owner_id) if esc.owner_id else "unassigned"
        receipt = (
            f":rotating_light: Escalation `{esc.id}` opened: *{esc.priority.value}*"
            + (" (on-call)" if esc.on_call else "")
            + f", routed to {escape_untrusted(esc.channel, limit=80)}, owner {owner}, "
            f"SLA due {_when(esc.sla_due_at)}."
        )
        return f"Escalation {escape_untrusted(esc.id, limit=60)} opened ({esc.priority.value})", [
            section(receipt)
        ]
    if isinstance(response, ProposalPending):
        p = response.proposal
        return f"Proposal {escape_untrusted(p.id, limit=60)} needs approval", proposal_blocks(
            p, response.blast_radius, thread_id=thread_id
        )
    if isinstance(response, ProposalOutcome):
        pid = escape_untrusted(response.proposal_id, limit=60)
        return f"Proposal {pid}: {response.status.value}", [section(outcome_text(response))]
    return "Warden could not do that", refusal_blocks(response.reason)


# -- checks and rendering -------------------------------------------------------------------
def check_blocks(blocks: list[Block]) -> None:
    """Raise ValueError if `blocks` breaks a Block Kit limit Slack would reject."""
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks (Slack allows {MAX_BLOCKS})")
    for i, block in enumerate(blocks):
        kind = block["type"]
        if kind == "header" and len(block["text"]["text"]) > MAX_HEADER:
            raise ValueError(f"block {i}: header over {MAX_HEADER} characters")
        if kind == "section":
            if len(block["text"]["text"]) > MAX_SECTION_TEXT:
                raise ValueError(f"block {i}: section text over {MAX_SECTION_TEXT} characters")
            fields = block.get("fields", [])
            if len(fields) > MAX_FIELDS or any(len(f["text"]) > MAX_FIELD_TEXT for f in fields):
                raise ValueError(f"block {i}: too many or too long fields")
        if kind == "context" and len(block["elements"]) > MAX_CONTEXT_ELEMENTS:
            raise ValueError(f"block {i}: over {MAX_CONTEXT_ELEMENTS} context elements")
        if kind == "actions":
            for el in block["elements"]:
                if len((el.get("text") or {}).get("text", "")) > MAX_BUTTON_TEXT:
                    raise ValueError(f"block {i}: button text over {MAX_BUTTON_TEXT}")
                if len(el.get("value", "")) > MAX_VALUE:
                    raise ValueError(f"block {i}: button value over {MAX_VALUE}")


def render_text(blocks: list[Block] | str | None, *, fallback: str = "") -> str:
    """Render blocks roughly as a person sees them in Slack (for transcripts and logs)."""
    parsed: list[Block] = json.loads(blocks) if isinstance(blocks, str) else (blocks or [])
    if not parsed:
        return fallback
    lines: list[str] = []
    for block in parsed:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += [title.upper(), "=" * min(len(title), 72)]
        elif kind == "section":
            lines.append(_plain(block["text"]["text"]))
            fields = [_plain(f["text"]).replace("\n", ": ", 1) for f in block.get("fields", [])]
            for left, right in zip(fields[::2], [*fields[1::2], ""], strict=False):
                lines.append(f"  {left:<38} {right}".rstrip())
        elif kind == "context":
            lines.append("  " + " ".join(_plain(e.get("text", "")) for e in block["elements"]))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "actions":
            labels = [
                (e.get("text") or e.get("placeholder") or {}).get("text", "…")
                for e in block["elements"]
            ]
            lines.append("  " + "  ".join(f"[ {label} ]" for label in labels))
        elif kind == "context_actions":
            lines.append("  [ 👍 ] [ 👎 ]")
        elif kind == "input":
            lines.append(f"  {block['label']['text']}: [______]")
    return "\n".join(lines)


def _plain(text: str) -> str:
    """Undo the mrkdwn escaping and show Slack tokens the way the client displays them."""
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
    text = re.sub(r"<https?://[^|>\s]+\|([^>]+)>", r"\1", text)  # a link shows its label
    text = re.sub(r"\*([^*\n]+)\*", r"\1", text)
    text = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", text)
    text = re.sub(r":([a-z_]+):", lambda m: _EMOJI.get(m.group(1), m.group(0)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_EMOJI = {
    "white_check_mark": "✅",
    "x": "❌",
    "warning": "⚠️",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "information_source": "ℹ️",
    "page_facing_up": "📄",
    "clipboard": "📋",
    "rotating_light": "🚨",
    "bell": "🔔",
    "alarm_clock": "⏰",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_orange_circle": "🟠",
}
