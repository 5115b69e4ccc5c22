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
from slackapp.blocks import Block, check_blocks, error_blocks, response_blocks
from slackapp.delivery import AnswerStream, Audience, accepts_tokens, deliver
from slackapp.escape import escape_untrusted
from slackapp.feedback import record_answer
from slackapp.ledger import Post
from slackapp.runtime import Runtime
from slackapp.threads import Subject, remember
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
    audience: Audience | None = None,
) -> None:
    """Call the agent and post what it says (or what went wrong) in the thread.

    Answers stream while the model writes them when the agent supports it; whatever Slack
    refuses reaches the person another way (slackapp/delivery.py).
    """
    intent = request.intent.value if request.intent else "auto"
    with log_context(thread=request.thread_id, case_id=request.case_id, intent=intent):
        _run_request(
            rt,
            client,
            request,
            channel=channel,
            thread_ts=thread_ts,
            question=question,
            audience=audience or Audience(user=request.user_id),
        )


def _run_request(
    rt: Runtime,
    client: Any,
    request: WardenRequest,
    *,
    channel: str,
    thread_ts: str,
    question: str,
    audience: Audience,
) -> None:
    started = time.perf_counter()

    def reply(text: str, blocks: list[Block]) -> dict[str, Any] | None:
        return deliver(
            client,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=blocks,
            audience=audience,
        )

    stream = None
    kwargs: dict[str, Any] = {}
    if not audience.private and request.intent in (None, Intent.ASK) and accepts_tokens(rt.warden):
        stream = AnswerStream(
            client, channel=channel, thread_ts=thread_ts, team=rt.team_id, user=request.user_id
        )
        kwargs["on_token"] = stream
    try:
        response = rt.warden.handle(request, **kwargs)
    except WardenError as exc:
        observe_request(request, "refused", started)
        reply(escape_untrusted(str(exc), limit=300), error_blocks(str(exc)))
        return
    except Exception:
        observe_request(request, "error", started)
        log.exception("request failed: %s", request.intent)
        reply(INTERNAL_ERROR, error_blocks(INTERNAL_ERROR))
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
    from slackapp.links import policy_links

    text, blocks = response_blocks(
        response,
        thread_id=request.thread_id,
        question_id=question_id,
        links=policy_links(rt),
    )
    if isinstance(response, ProposalPending):
        from slackapp.paging import with_mention

        text, blocks = with_mention(rt, text, blocks)
    posted = stream.finish(text=text, blocks=blocks) if stream is not None else None
    if posted is None:
        posted = reply(text, blocks)
    if not audience.private:
        remember(
            rt,
            channel=channel,
            thread_ts=thread_ts,
            # The whole question, however long: the ledger keeps it, the escalation cites it.
            subject=Subject(case_id=request.case_id, question=question or request.text),
        )
    if posted is not None:
        record_answer(rt, response, request, channel=posted["channel"], ts=posted["ts"])
    if isinstance(response, ProposalPending) and posted is not None:
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
        from slackapp.paging import announce_proposal

        announce_proposal(rt, client, response.proposal, channel=posted["channel"], ts=posted["ts"])
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
    """Post the ticket to its pod channel (paging on-call for P0/P1); its thread gets the SLA
    reminders. If it cannot be posted there, the requester's thread says so."""
    from slackapp.home import escalation_audience, republish
    from slackapp.triage import post_ticket

    def tell(note: str) -> None:
        post(
            client,
            channel=request_channel,
            thread_ts=thread_ts,
            text=escape_untrusted(note, limit=300),
            blocks=error_blocks(note),
        )

    esc = opened.escalation
    if post_ticket(rt, client, esc, tell=tell) is None:
        from tools.escalations import set_slack_message

        # Reminders then thread under the requester's receipt rather than nowhere.
        try:
            set_slack_message(rt.store, esc.id, channel=request_channel, ts=thread_ts)
        except WardenError as exc:
            log.warning("could not record where escalation %s was posted: %s", esc.id, exc)
    republish(rt, client, escalation_audience(rt, esc))
