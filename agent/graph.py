"""The Warden graph: route, then one fixed path per job; proposals pause for a human decision.

    START -> route -> answer | recommend | escalate | propose -> END
    START -> route -> await_decision (interrupt) -> END        (an approval thread)

A proposal is created in the conversation's thread, then waits in its own approval thread
(`<thread>/proposal/<id>`, started by `Warden`), so the conversation goes on while it waits and
several proposals can wait in one conversation.

A Slack command arrives with its intent and skips routing; free text the rules can read without
doubt (`route_if_clear`) is routed by them, the rest by the model when there is one (one small
structured call) and by rules otherwise. No job runs a tool-calling loop:
each is a fixed sequence with at most one model call (plus one repair for a recommendation).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent import answer as answer_job
from agent import escalate as escalate_job
from agent import memory
from agent import propose as propose_job
from agent import recommend as recommend_job
from agent.backend import ToolsBackend
from agent.context import Context
from agent.deps import Backend, Deps, RetrieverLike
from agent.drafts import RouteDraft
from agent.interface import Intent, Refusal, Usage, WardenRequest
from agent.llm import add_usage, model_name, structured_call
from agent.prompts import ROUTER_SYSTEM
from agent.router import Route, accept_model_route, route_by_rules, route_if_clear
from agent.schemas import route_schema
from agent.state import Retrieved, State
from agent.studio import hitl_request
from agent.untrusted import sanitize
from warden.errors import InputError, WardenError

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

    from knowledge.catalogue import Catalogue
    from tools.store import Store

log = logging.getLogger(__name__)


class Node(Protocol):
    """A node function: LangGraph passes the run's `Runtime` (with our `Context`) by keyword."""

    __name__: str

    def __call__(self, state: State, *, runtime: Runtime[Context]) -> dict[str, Any]: ...


ESCALATE_WORDS = re.compile(r"\b(please|escalate|escalation|this|it|to|policy)\b", re.I)
JOBS: dict[Intent, str] = {
    Intent.ASK: "answer",
    Intent.RECOMMEND: "recommend",
    Intent.ESCALATE: "escalate",
    Intent.PROPOSE: "propose",
}


def _usage(state: State, spent: Usage) -> dict[str, int]:
    return add_usage(Usage.model_validate(state.get("usage") or {}), spent).model_dump()


def _dump_hits(sections: list[Retrieved]) -> list[dict[str, Any]]:
    return [s.model_dump() for s in sections]


def _refusing(job: Node) -> Node:
    """Turn a WardenError (unknown case, closed route, ...) into a Refusal the caller can show."""

    def node(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        try:
            return job(state, runtime=runtime)
        except WardenError as exc:
            log.info("refused %s: %s", job.__name__, exc)
            return {"response": Refusal(reason=str(exc), usage=Usage()).model_dump(mode="json")}

    node.__name__ = job.__name__
    return node


def _now(runtime: Runtime[Context]) -> datetime:
    context = runtime.context
    return context.now if context is not None and context.now else datetime.now(UTC)


def build_graph(
    *,
    model: BaseChatModel | None,
    retriever: RetrieverLike,
    catalogue: Catalogue,
    checkpointer: BaseCheckpointSaver[Any] | None,
    store: Store | None = None,
    gateway: Any = None,
    gates: Any = None,
    backend: Backend | None = None,
    vision: bool = False,
    min_score: float = 0.30,
    proposal_ttl: timedelta = timedelta(hours=4),
) -> CompiledStateGraph[State, Context, Any, Any]:
    """Build the graph once; every client is passed in (model=None means no-LLM mode)."""
    if backend is None:
        if store is None:
            raise InputError("build_graph needs a store (or a backend) for cases and proposals.")
        backend = ToolsBackend(
            store, catalogue, gateway=gateway, gates=gates, proposal_ttl=proposal_ttl
        )
    deps = Deps(
        retriever=retriever,
        catalogue=catalogue,
        backend=backend,
        model=model,
        vision=vision,
        min_score=min_score,
    )
    name = model_name(model)

    def route(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        if state.get("awaiting"):
            return {}  # an approval thread: straight to the interrupt, nothing to route
        request = WardenRequest.model_validate(state["request"])
        spent = Usage()
        if request.intent is not None:
            chosen = Route(request.intent, request.case_id, request.cluster_id)
        elif deps.model is None:
            chosen = route_by_rules(request.text)
        elif (clear := route_if_clear(request.text)) is not None:
            chosen = clear  # the rules are certain: the router's model call would add nothing
        else:
            reply = structured_call(
                deps.model,
                RouteDraft,
                [SystemMessage(ROUTER_SYSTEM), HumanMessage(sanitize(request.text)[:1000])],
                name="route",
                json_schema=route_schema(),
            )
            spent = reply.usage
            chosen = (
                accept_model_route(
                    request.text, reply.parsed.intent, reply.parsed.case_id, reply.parsed.cluster_id
                )
                if reply.parsed is not None
                else route_by_rules(request.text)
            )
        resolved = request.model_copy(
            update={
                "intent": chosen.intent,
                "case_id": request.case_id or chosen.case_id,
                "cluster_id": request.cluster_id or chosen.cluster_id,
            }
        )
        # Every per-turn field starts empty: citations are checked against THIS turn only.
        return {
            "request": resolved.model_dump(mode="json"),
            "intent": chosen.intent.value,
            "hits": [],
            "response": None,
            "proposal": None,
            "blast_radius": None,
            "usage": spent.model_dump(),
        }

    def pick_job(
        state: State,
    ) -> Literal["answer", "recommend", "escalate", "propose", "await_decision"]:
        if state.get("awaiting"):
            return "await_decision"
        job = JOBS.get(Intent(state["intent"]))
        if job is None:  # routing raises on the unexpected instead of guessing
            raise ValueError(f"Unknown intent {state['intent']!r}")
        return job  # type: ignore[return-value]

    @_refusing
    def answer(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        request = WardenRequest.model_validate(state["request"])
        if not request.text.strip():
            raise InputError("Ask a policy question, e.g. `ask does HA cover dog-whistle memes?`")
        subject = memory.load(state)
        policy = memory.mentioned_policy(request.text, deps.catalogue)
        query = None
        question = request.text
        rewriting = Usage()
        if subject is not None and memory.is_follow_up(request.text):
            rewritten = None
            if deps.model is not None:
                rewritten, rewriting = memory.rewrite(deps.model, request.text, subject)
            if rewritten is not None:
                question = query = rewritten  # a standalone question: asked and searched
            else:
                query = memory.follow_up_query(request.text, subject)
        result, sections, spent = answer_job.answer(deps, question, query=query, policy=policy)
        usage = _usage(state, add_usage(rewriting, spent))
        if query is not None and subject is not None:
            carried = subject.model_copy(update={"policy_id": policy or subject.policy_id})
        else:
            carried = memory.Subject(
                question=request.text,
                text=request.text,
                policy_id=policy or (sections[0].policy_id if sections else None),
                recent=subject.recent if subject is not None else [],
            )
        carried = carried.said(request.text)
        return {
            "response": result.model_copy(update={"usage": Usage(**usage)}).model_dump(mode="json"),
            "hits": _dump_hits(sections),
            "usage": usage,
            "last_question": query or request.text,
            "subject": carried.model_dump(),
        }

    @_refusing
    def recommend(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        request = WardenRequest.model_validate(state["request"])
        if not request.case_id:
            raise InputError("Which case? e.g. `recommend CASE_ID`.")
        case = deps.backend.get_case(request.case_id)
        result, sections, spent = recommend_job.recommend(deps, case)
        usage = _usage(state, spent)
        before = memory.load(state)
        subject = memory.Subject(
            case_id=case.id,
            text=recommend_job.content_query(case),
            policy_id=result.policy_id,
            recent=before.recent if before is not None else [],
        ).said(request.text or f"recommend {case.id}")
        return {
            "response": result.model_copy(update={"usage": Usage(**usage)}).model_dump(mode="json"),
            "hits": _dump_hits(sections),
            "usage": usage,
            "subject": subject.model_dump(),
        }

    @_refusing
    def escalate(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        request = WardenRequest.model_validate(state["request"])
        text = request.text
        case_id = request.case_id
        subject = memory.load(state)
        if case_id is None and len(ESCALATE_WORDS.sub("", text).split()) < 3:
            if subject is not None and subject.case_id:
                case_id = subject.case_id  # "escalate" after a recommendation: that case
            else:
                # "escalate" said in reply to an answer escalates the question that was asked.
                text = f"{text}: {state.get('last_question', '')}".strip(": ")
        result, sections, spent = escalate_job.escalate(
            deps, case_id=case_id, text=text, user_id=request.user_id
        )
        usage = _usage(state, spent)
        return {
            "response": result.model_copy(update={"usage": Usage(**usage)}).model_dump(mode="json"),
            "hits": _dump_hits(sections),
            "usage": usage,
        }

    @_refusing
    def propose(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        request = WardenRequest.model_validate(state["request"])
        result, sections, spent = propose_job.create(
            deps,
            user_id=request.user_id,
            case_id=request.case_id,
            cluster_id=request.cluster_id,
            action=request.action,
            model_name=name,
        )
        usage = _usage(state, spent)
        update: dict[str, Any] = {
            "response": result.model_copy(update={"usage": Usage(**usage)}).model_dump(mode="json"),
            "hits": _dump_hits(sections),
            "usage": usage,
        }
        if result.kind == "proposal":
            update["proposal"] = result.proposal.model_dump(mode="json")
            update["blast_radius"] = result.blast_radius.model_dump(mode="json")
            update["proposals_opened"] = [*state.get("proposals_opened", []), result.proposal.id]
        return update

    @_refusing
    def await_decision(state: State, *, runtime: Runtime[Context]) -> dict[str, Any]:
        paused = state.get("proposal")
        if not paused:
            raise InputError("No proposal is waiting for a decision in this thread.")
        payload: dict[str, Any] = {
            "proposal": paused,
            "blast_radius": state.get("blast_radius"),
            "refused": None,
            # The agent-inbox human-in-the-loop shape, beside our own fields.
            **hitl_request(paused, state.get("blast_radius")),
        }
        # Each resume is checked; a refused one pauses again (LangGraph replays earlier resume
        # values to earlier interrupt() calls), so only an accepted decision gets past the loop.
        while True:
            raw = interrupt(payload)
            decision, stored, why = propose_job.check_decision(deps, paused, raw, _now(runtime))
            if why is None and decision is not None and stored is not None:
                break
            payload = {**payload, "refused": why}
        progress = runtime.context.progress if runtime.context is not None else None
        outcome = propose_job.carry_out(deps, decision, stored, progress)
        return {"response": outcome.model_dump(mode="json"), "awaiting": False}

    builder = StateGraph(State, context_schema=Context)
    builder.add_node("route", route)
    builder.add_node("answer", answer)
    builder.add_node("recommend", recommend)
    builder.add_node("escalate", escalate)
    builder.add_node("propose", propose)
    builder.add_node("await_decision", await_decision)
    builder.add_edge(START, "route")
    builder.add_conditional_edges("route", pick_job)
    builder.add_edge("answer", END)
    builder.add_edge("recommend", END)
    builder.add_edge("escalate", END)
    builder.add_edge("propose", END)
    builder.add_edge("await_decision", END)
    return builder.compile(checkpointer=checkpointer, name="warden")
