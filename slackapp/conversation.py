"""Run one request through the agent and post the reply in its thread (after the ack)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from agent.interface import (
    EscalationOpened,
    Intent,
    PolicyAnswer,
    ProposalPending,
    WardenRequest,
)
from knowledge.vocabulary import ActionType
from slackapp.blocks import Block, check_blocks, error_blocks, escalation_blocks, response_blocks
from slackapp.escape import escape_untrusted
from slackapp.ledger import Post
from slackapp.runtime import Runtime
from warden.errors import InputError, WardenError
from warden.logs import log_context
from warden.metrics import AGENT_SECONDS

log = logging.getLogger(__name__)

HELP = (
    "*Warden* answers policy questions with citations, recommends enforcement on a case, "
    "opens escalations and posts bulk actions for approval.\n"
    "• `/warden ask QUESTION` (or just mention me, or DM me)\n"
    "• `/warden recommend CASE_ID`\n"
    "• `/warden escalate CASE_ID [what you know]`\n"
    "• `/warden propose CLUSTER_ID [ACTION]` (actions: "
    + ", ".join(a.value for a in ActionType)
    + ")\n"
    "• `/warden status` — what is waiting for you\n"
    "Nothing is enforced until an authorised approver clicks Approve."
)
INTERNAL_ERROR = (
    "Warden hit an internal error and nothing was changed. Try again; if it keeps failing, "
    "escalate the case by hand and tell the platform team."
)
_MENTION = re.compile(r"^\s*<@[A-Z0-9]+>\s*")


@dataclass(frozen=True)
class Command:
    verb: str  # ask, recommend, escalate, propose, status, help
    arg: str | None = None
    action: ActionType | None = None
    text: str = ""


def parse(text: str) -> Command:
    """Read `/warden` text (or a message that starts with a verb); anything else is a question."""
    text = _MENTION.sub("", text or "").strip()
    if not text:
        return Command("help")
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    rest = rest.strip()
    if verb in ("help", "status"):
        return Command(verb)
    if verb == "ask":
        if not rest:
            raise InputError(
                "Ask what? Try `/warden ask is a meme calling a group vermin hateful?`"
            )
        return Command("ask", text=rest)
    if verb in ("recommend", "escalate", "propose"):
        arg, _, more = rest.partition(" ")
        if not arg:
            what = "CLUSTER_ID" if verb == "propose" else "CASE_ID"
            raise InputError(f"`/warden {verb}` needs a {what}, e.g. `/warden {verb} C-1001`.")
        action = None
        if verb == "propose" and more.strip():
            word = more.strip().split()[0].lower()
            try:
                action = ActionType(word)
            except ValueError:
                allowed = ", ".join(a.value for a in ActionType)
                raise InputError(f"Unknown action `{word}`; use one of: {allowed}.") from None
        return Command(verb, arg=arg, action=action, text=more.strip())
    return Command("ask", text=text)


def request_for(command: Command, *, thread_id: str, user_id: str) -> WardenRequest:
    if command.verb == "ask":
        return WardenRequest(
            thread_id=thread_id, user_id=user_id, text=command.text, intent=Intent.ASK
        )
    if command.verb == "recommend":
        return WardenRequest(
            thread_id=thread_id, user_id=user_id, intent=Intent.RECOMMEND, case_id=command.arg
        )
    if command.verb == "escalate":
        return WardenRequest(
            thread_id=thread_id,
            user_id=user_id,
            intent=Intent.ESCALATE,
            case_id=command.arg,
            text=command.text,
        )
    if command.verb == "propose":
        return WardenRequest(
            thread_id=thread_id,
            user_id=user_id,
            intent=Intent.PROPOSE,
            cluster_id=command.arg,
            action=command.action,
        )
    raise InputError(f"`{command.verb}` is not a request for the agent")


def thread_id_of(channel: str, thread_ts: str) -> str:
    return f"{channel}:{thread_ts}"


def post(
    client: Any, *, channel: str, thread_ts: str | None, text: str, blocks: list[Block]
) -> dict[str, Any]:
    check_blocks(blocks)
    kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
    if thread_ts:
        kwargs["thread_ts"] = thread_ts
    response = client.chat_postMessage(**kwargs)
    return dict(response.data) if hasattr(response, "data") else dict(response)


def run_request(
    rt: Runtime,
    client: Any,
    request: WardenRequest,
    *,
    channel: str,
    thread_ts: str,
    question: str = "",
) -> None:
    """Call the agent and post what it says (or what went wrong) in the thread."""
    intent = request.intent.value if request.intent else "auto"
    with log_context(thread=request.thread_id, case_id=request.case_id, intent=intent):
        _run_request(rt, client, request, channel=channel, thread_ts=thread_ts, question=question)


def _run_request(
    rt: Runtime,
    client: Any,
    request: WardenRequest,
    *,
    channel: str,
    thread_ts: str,
    question: str,
) -> None:
    started = time.perf_counter()
    try:
        response = rt.warden.handle(request)
    except WardenError as exc:
        observe_request(request, "refused", started)
        post(
            client,
            channel=channel,
            thread_ts=thread_ts,
            text=str(exc),
            blocks=error_blocks(str(exc)),
        )
        return
    except Exception:
        observe_request(request, "error", started)
        log.exception("request failed: %s", request.intent)
        post(
            client,
            channel=channel,
            thread_ts=thread_ts,
            text=INTERNAL_ERROR,
            blocks=error_blocks(INTERNAL_ERROR),
        )
        return
    observe_request(request, type(response).__name__, started)
    question_id = None
    if isinstance(response, PolicyAnswer) and response.offer_escalation:
        # The question goes to the ledger, the button carries its id: a button value is
        # limited to 2000 characters, a question is not.
        question_id = f"q_{uuid.uuid4().hex}"
        rt.ledger.remember_post(
            "question", question_id, Post(channel, thread_ts, request.thread_id, question)
        )
    text, blocks = response_blocks(response, thread_id=request.thread_id, question_id=question_id)
    posted = post(client, channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
    if isinstance(response, ProposalPending):
        rt.ledger.remember_post(
            "proposal",
            response.proposal.id,
            Post(
                posted["channel"],
                posted["ts"],
                request.thread_id,
                response.blast_radius.model_dump_json(),
            ),
        )
    elif isinstance(response, EscalationOpened):
        route_escalation(rt, client, response, request_channel=channel, thread_ts=thread_ts)


def observe_request(request: WardenRequest, outcome: str, started: float) -> None:
    """Time one agent request (metric by intent and outcome) and log it, without its content."""
    elapsed = time.perf_counter() - started
    intent = request.intent.value if request.intent else "auto"
    AGENT_SECONDS.labels(intent=intent, outcome=outcome).observe(elapsed)
    log.info(
        "agent request done",
        extra={"outcome": outcome, "latency_ms": round(elapsed * 1000, 1)},
    )


def route_escalation(
    rt: Runtime, client: Any, opened: EscalationOpened, *, request_channel: str, thread_ts: str
) -> None:
    """Post the ticket to its pod channel; that post's thread gets the SLA reminders."""
    from tools.escalations import set_slack_message

    esc = opened.escalation
    try:
        posted = post(
            client,
            channel=esc.channel,
            thread_ts=None,
            text=f"Escalation {esc.id} ({esc.priority.value})",
            blocks=escalation_blocks(esc),
        )
        where = (str(posted["channel"]), str(posted["ts"]))
    except Exception as exc:  # the requester must learn the pod was not told
        log.warning("could not post escalation %s to %s: %s", esc.id, esc.channel, exc)
        route = escape_untrusted(esc.channel, limit=80)
        note = f"The escalation {esc.id} is open, but posting it to {route} failed; tell the pod."
        post(
            client,
            channel=request_channel,
            thread_ts=thread_ts,
            text=note,
            blocks=error_blocks(note),
        )
        where = (request_channel, thread_ts)
    try:
        set_slack_message(rt.store, esc.id, channel=where[0], ts=where[1])
    except WardenError as exc:
        log.warning("could not record where escalation %s was posted: %s", esc.id, exc)
