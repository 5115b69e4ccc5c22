"""The one entry point the Slack app and the CLI call: `Warden.handle / resume / pending`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from langgraph.types import Command
from pydantic import TypeAdapter

from agent.context import Context
from agent.interface import (
    Decision,
    Intent,
    ProposalPending,
    Refusal,
    Usage,
    WardenRequest,
    WardenResponse,
)
from agent.prompts import PROMPT_VERSION
from tools.models import BlastRadius, FanoutProgress, Proposal

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph

    from agent.checkpoint import Checkpoints
    from warden.settings import Settings

log = logging.getLogger(__name__)

RESPONSE: TypeAdapter[WardenResponse] = TypeAdapter(WardenResponse)
Progress = Callable[[FanoutProgress], None]
# A tiny query that exercises what the first real question would otherwise pay for.
WARM_UP_QUERY = "hate speech"


def approval_thread(thread_id: str, proposal_id: str) -> str:
    """The checkpoint thread where one proposal waits for its decision."""
    return f"{thread_id}/proposal/{proposal_id}"


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


class Warden:
    """Serves requests through the graph; built once by `build_warden` and shared (thread-safe)."""

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        *,
        closers: list[Any] | None = None,
        model_name: str | None = None,
        retriever: Any = None,
        tracer: Any = None,
    ) -> None:
        self.graph = graph
        self.model_name = model_name
        self.retriever = retriever
        self.tracer = tracer
        self._closers = closers or []

    def _config(self, thread_id: str, **metadata: Any) -> RunnableConfig:
        """The run's config: its thread, the redacting tracer when tracing is on, metadata."""
        config = _config(thread_id)
        if self.tracer is not None:
            config["callbacks"] = [self.tracer]
        # Never secrets, never the content under review.
        config["metadata"] = {
            "prompt_version": PROMPT_VERSION,
            "model": self.model_name,
            **metadata,
        }
        return config

    def warm_up(self) -> threading.Thread:
        """Load the embedding model and the retriever's indexes in a background thread.

        The first question otherwise pays for it (measured ~25 s), long after Slack's 3 s ack.
        Returns at once; requests arriving meanwhile are served as usual (the embedder and the
        lexical index load under their own locks, so they wait for the load instead of racing it).
        """
        thread = threading.Thread(target=self._warm, name="warden-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        search = getattr(self.retriever, "search", None)
        if search is None:
            return
        try:
            search(WARM_UP_QUERY, k=1)
        except Exception:  # warming is an optimisation: the first real question reports the error
            log.exception("warming the retriever failed; the first question will load it")
        else:
            log.info("retriever warm: embedding model and indexes loaded")

    def handle(
        self,
        request: WardenRequest,
        *,
        now: datetime | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> WardenResponse:
        """Run one turn; a proposal comes back as `ProposalPending`, paused for a decision.

        `on_token` receives the model's tokens as they are generated (the graph streamed with
        `stream_mode="messages"`), for the Slack side to show them as they come; the router's
        own call is not streamed, and in no-LLM mode it is never called.
        """
        context = Context(now=now)
        payload = {"request": request.model_dump(mode="json")}
        config = self._config(
            request.thread_id,
            intent=request.intent.value if request.intent else None,
            case_id=request.case_id,
        )
        if on_token is None:
            state = self.graph.invoke(payload, config, context=context)
        else:
            state = self._streamed(payload, config, context, on_token)
        response = RESPONSE.validate_python(state["response"])
        if isinstance(response, ProposalPending):
            response = self._pause(request, response, context)
        return self._stamped(response)

    def _stamped(self, response: WardenResponse) -> WardenResponse:
        """Every response says which prompts and which model made it."""
        return response.model_copy(
            update={"prompt_version": PROMPT_VERSION, "model": self.model_name}
        )

    def _streamed(
        self,
        payload: dict[str, Any],
        config: RunnableConfig,
        context: Context,
        on_token: Callable[[str], None],
    ) -> dict[str, Any]:
        state: dict[str, Any] = {}
        stream: Any = self.graph.stream(
            payload, config, context=context, stream_mode=["messages", "values"]
        )
        for mode, chunk in stream:
            if mode == "values":
                state = chunk
                continue
            message, meta = chunk
            if meta.get("langgraph_node") == "route":
                continue
            text = message.content if isinstance(message.content, str) else ""
            if text:
                try:
                    on_token(text)
                except Exception:  # a failing display must not fail the turn
                    log.exception("on_token callback failed")
        return state

    def await_decision(
        self, thread_id: str, created: ProposalPending, *, requester_id: str
    ) -> WardenResponse:
        """Pause a proposal created outside a conversation (a detector through the API), so an
        approval on its card resumes it exactly like one proposed in Slack."""
        request = WardenRequest(
            thread_id=thread_id,
            user_id=requester_id,
            intent=Intent.PROPOSE,
            case_id=created.proposal.case_id,
            cluster_id=created.proposal.cluster_id,
        )
        return self._pause(request, created, Context())

    def _pause(
        self, request: WardenRequest, created: ProposalPending, context: Context
    ) -> WardenResponse:
        """Start the proposal's approval thread; it stops at the interrupt carrying the proposal."""
        thread = approval_thread(request.thread_id, created.proposal.id)
        self.graph.invoke(
            {
                "request": request.model_dump(mode="json"),
                "awaiting": True,
                "proposal": created.proposal.model_dump(mode="json"),
                "blast_radius": created.blast_radius.model_dump(mode="json"),
            },
            self._config(thread, intent="propose", case_id=request.case_id),
            context=context,
            # The pause must be on disk before anyone is told a proposal awaits approval.
            durability="sync",
        )
        waiting = self._waiting(thread)
        if waiting is None:  # pragma: no cover - the graph always pauses on a fresh proposal
            return Refusal(reason=f"{created.proposal.id} could not be paused for approval.")
        return waiting.model_copy(update={"usage": created.usage})

    def _waiting(self, thread: str) -> ProposalPending | None:
        snapshot = self.graph.get_state(_config(thread))
        if not snapshot.interrupts:
            return None
        payload = snapshot.interrupts[0].value
        return ProposalPending(
            proposal=Proposal.model_validate(payload["proposal"]),
            blast_radius=BlastRadius.model_validate(payload["blast_radius"]),
        )

    def pending(self, thread_id: str) -> list[ProposalPending]:
        """Every proposal of this conversation still waiting for a decision (oldest first)."""
        snapshot = self.graph.get_state(_config(thread_id))
        opened = snapshot.values.get("proposals_opened", []) if snapshot.values else []
        waiting = [self._waiting(approval_thread(thread_id, pid)) for pid in opened]
        return [w for w in waiting if w is not None]

    def resume(
        self,
        thread_id: str,
        decision: Decision,
        progress: Progress | None = None,
        *,
        now: datetime | None = None,
    ) -> WardenResponse:
        """Resume a paused proposal with a decision the caller has ALREADY recorded in the store.

        The decision carries the verdict and the proposal id only; the actions are re-read from
        the paused state and checked against the approved hash before anything is executed.
        """
        if not isinstance(decision, Decision):
            decision = Decision.model_validate(decision)  # extra keys (e.g. targets) are refused
        thread = approval_thread(thread_id, decision.proposal_id)
        if self._waiting(thread) is None:
            return Refusal(
                reason=f"No proposal {decision.proposal_id} is waiting in this thread; it may "
                "already be decided. Nothing was done."
            )
        context = Context(progress=progress, now=now)
        state = self.graph.invoke(
            Command(resume=decision.model_dump(mode="json")),
            self._config(thread, intent="propose", proposal_id=decision.proposal_id),
            context=context,
            durability="sync",
        )
        snapshot = self.graph.get_state(_config(thread))
        if snapshot.interrupts:
            why = snapshot.interrupts[0].value.get("refused") or "The decision was not accepted."
            return Refusal(reason=f"{why} The proposal is still waiting.")
        response = RESPONSE.validate_python(state["response"])
        return self._stamped(response.model_copy(update={"usage": Usage()}))

    def close(self) -> None:
        from agent.tracing import flush

        flush(self.tracer)
        for closer in self._closers:
            try:
                closer.close()
            except Exception:  # closing is best effort at shutdown; log, keep closing the rest
                log.exception("closing %r failed", closer)

    def __enter__(self) -> Warden:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_warden(
    settings: Settings,
    *,
    model: BaseChatModel | None = None,
    retriever: Any = None,
    store: Any = None,
    gateway: Any = None,
    checkpointer: Any = None,
    catalogue: Any = None,
    gates: Any = None,
    backend: Any = None,
) -> Warden:
    """Build every client ONCE (model, retriever, store, gateway, checkpoints) and the graph."""
    from agent.graph import build_graph
    from agent.llm import build_chat_model, model_name
    from knowledge.catalogue import load_catalogue

    closers: list[Any] = []
    if model is None and settings.llm_enabled:
        model = build_chat_model(settings)
    catalogue = catalogue or load_catalogue(settings.catalogue_dir)
    if retriever is None:
        from knowledge.retrieval import build_retriever

        retriever = build_retriever(settings)
    if store is None and backend is None:
        from tools.store import build_store

        store = build_store(settings)
    if gateway is None and store is not None:
        from tools.gateway import build_gateway

        gateway = build_gateway(settings, store.engine)
    if gates is None:
        gates = _load_gates(settings)
    if checkpointer is None:
        from agent.checkpoint import build_checkpoints

        checkpoints: Checkpoints = build_checkpoints(settings)
        checkpointer = checkpoints.saver
        closers.append(checkpoints)
    graph = build_graph(
        model=model,
        retriever=retriever,
        catalogue=catalogue,
        checkpointer=checkpointer,
        store=store,
        gateway=gateway,
        gates=gates,
        backend=backend,
        vision=settings.llm_vision,
        proposal_ttl=timedelta(minutes=settings.proposal_ttl_minutes),
    )
    from agent.tracing import build_tracer

    return Warden(
        graph,
        closers=closers,
        model_name=model_name(model),
        retriever=retriever,
        tracer=build_tracer(settings),
    )


def _load_gates(settings: Settings) -> Any:
    """The automation gates (tools.gates), or None where that module is not installed."""
    try:
        from tools import gates
    except ModuleNotFoundError:
        return None
    return gates.load_gates(settings.gates_file)
