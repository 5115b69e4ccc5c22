"""4 and 5: time inside Warden per request outside the model, and model calls and tokens per job
against LangGraph's prebuilt ReAct agent.

One counting chat model (bench.chat_model) serves both agents; it answers at once, counts prompt
tokens over the exact messages and schemas each call sends, and records the time spent inside
it, which is subtracted from each request's time. Both agents get the same requests as free
text (as a Slack message arrives), the same retriever, store and catalogue, and their answers
pass through the same grounding checks.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from bench.chat_model import CallInfo, CountingChatModel, Ledger
from bench.context import Context, missing, torch_threads
from bench.profiling import describe, profile
from bench.react_peer import (
    CASE_RE,
    CLUSTER_RE,
    PEER_SYSTEM,
    SECTION_RE,
    _first_actionable,
    make_tools,
    peer_responder,
)
from bench.results import Figure, Section
from bench.stats import median, p99

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

JOBS = ("ask", "recommend", "escalate", "propose")
AGENT_COLLECTION = "agent-10k"
POLICY_COLLECTION = "eval-warden"  # knowledge.evaluate's collection of Warden's policies
ID_REF = re.compile(r"\[([^\]\s]+)\]")


def answer_text(ids: list[str]) -> str:
    """The scripted answer, word for word the same for both agents."""
    cited = " ".join(f"[{i}]" for i in ids)
    return f"Per the retrieved policy {cited}: yes, this is covered. {cited}"


def warden_responder(messages: list[BaseMessage], info: CallInfo) -> AIMessage:
    """Warden's model, scripted: the structured reply each of its fixed calls asks for."""
    name = (info.response_format or {}).get("name")
    human = next(str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage))
    if name == "route":
        case, cluster = CASE_RE.search(human), CLUSTER_RE.search(human)
        lowered = human.lower()
        if cluster and ("propose" in lowered or "remove" in lowered):
            intent = "propose"
        elif case and "escalat" in lowered:
            intent = "escalate"
        else:
            intent = "recommend" if case else "ask"
        draft = {
            "intent": intent,
            "case_id": case.group() if case else None,
            "cluster_id": cluster.group() if cluster else None,
        }
        return AIMessage(content=json.dumps(draft))
    if name == "policy_answer":
        ids = [m.group(1) for m in re.finditer(r"^\[([^\]]+)\] ", human, re.M)][:2]
        return AIMessage(
            content=json.dumps(
                {"answer": answer_text(ids), "cited_section_ids": ids, "grounded": True}
            )
        )
    if name == "recommendation":
        found = _first_actionable(human)
        chosen: tuple[str, str | None, str | None] = found if found else ("", None, None)
        return AIMessage(
            content=json.dumps(
                {
                    "policy_id": chosen[1],
                    "section_ids": [chosen[0]] if found else [],
                    "verdict": "violating" if found else "borderline",
                    "action": chosen[2],
                    "confidence": 0.8,
                    "rationale": f"The content matches [{chosen[0]}] of the retrieved policy.",
                    "escalate": False,
                }
            )
        )
    raise ValueError(f"the bench did not script Warden's structured call {name!r}")


@dataclass
class Run:
    job: str
    seconds: float
    model_seconds: float
    calls: int
    prompt_tokens: int
    completion_tokens: int
    grounded: bool
    outcome: str

    @property
    def outside_ms(self) -> float:
        return (self.seconds - self.model_seconds) * 1000


@dataclass(frozen=True)
class Req:
    """One request: the free text both agents get, and the ids a Slack command would carry."""

    job: str
    text: str
    case_id: str | None = None
    cluster_id: str | None = None


def requests(ctx: Context, store: Any, per_job: int) -> list[Req]:
    """The same requests for both agents, `per_job` of each job."""
    from knowledge.evaluate import WARDEN_QUESTIONS, load_questions

    questions = [q.question for q in load_questions(WARDEN_QUESTIONS) if not q.version]
    cases = [c.id for c in store.list_cases(limit=200)]
    clusters = [c.id for c in store.list_clusters()]
    out: list[Req] = []
    for i in range(per_job):
        case, other = cases[i % len(cases)], cases[(i + 11) % len(cases)]
        cluster = clusters[i % len(clusters)]
        out += [
            Req("ask", questions[(i * 7) % len(questions)]),
            Req("recommend", f"what should we do with {case}?", case_id=case),
            Req("escalate", f"please escalate {other} to the policy team", case_id=other),
            Req("propose", f"propose removing everything in cluster {cluster}", cluster_id=cluster),
        ]
    return out


def _warden_grounded(job: str, response: Any, catalogue: Catalogue) -> bool:
    kind = response.kind
    if job == "ask":
        return bool(kind == "answer" and response.citations and not response.removed_citations)
    if job == "recommend":
        return bool(
            kind == "recommendation"
            and response.action is not None
            and response.section_ids
            and catalogue.is_allowed(response.section_ids[0], response.action)
            and response.citations
        )
    if job == "escalate":
        return bool(kind == "escalation")
    # A proposal, or a refusal by the automation gate (the gate is part of the job).
    return bool(kind == "proposal" or (kind == "refusal" and _gate_refusal(response.reason)))


def _outcome(response: Any) -> str:
    if response.kind != "refusal":
        return str(response.kind)
    if _gate_refusal(response.reason):
        return "refusal by the automation gate"
    return f"refusal: {response.reason[:50]}"


def _gate_refusal(reason: str) -> bool:
    lowered = reason.lower()
    return any(w in lowered for w in ("shadow mode", "automation is off", "gate", "evaluation"))


def _peer_grounded(job: str, messages: list[BaseMessage], catalogue: Catalogue) -> bool:
    tool_out = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
    retrieved = {m.group(1) for text in tool_out for m in SECTION_RE.finditer(text)}
    final = str(messages[-1].content)
    if job == "ask":
        cited = set(ID_REF.findall(final))
        return bool(cited) and cited <= retrieved
    if job == "recommend":
        try:
            data = json.loads(final)
        except ValueError:
            return False
        sections = data.get("section_ids") or []
        return bool(
            data.get("action")
            and sections
            and sections[0] in retrieved
            and catalogue.is_allowed(sections[0], data["action"])
        )
    if job == "escalate":
        return any('"status": "open"' in t for t in tool_out)
    return any("pending approval" in t or "refused by gate" in t for t in tool_out)


def run_warden(
    warden: Any, ledger: Ledger, reqs: list[Req], catalogue: Catalogue, *, command: bool = False
) -> list[Run]:
    """Send each request to `Warden.handle`: as free text, or as the Slack command would."""
    from agent.interface import Intent, WardenRequest

    runs = []
    for req in reqs:
        job = req.job
        mark = ledger.mark()
        request = WardenRequest(
            thread_id=f"bench:{uuid.uuid4().hex[:10]}",
            user_id="UBENCH1",
            text=req.text,
            intent=Intent(job) if command else None,
            case_id=req.case_id if command else None,
            cluster_id=req.cluster_id if command else None,
        )
        started = time.perf_counter()
        response = warden.handle(request)
        seconds = time.perf_counter() - started
        calls = ledger.since(mark)
        runs.append(
            Run(
                job,
                seconds,
                sum(c.seconds for c in calls),
                len(calls),
                sum(c.prompt_tokens for c in calls),
                sum(c.completion_tokens for c in calls),
                _warden_grounded(job, response, catalogue),
                _outcome(response),
            )
        )
    return runs


def run_peer(agent: Any, ledger: Ledger, reqs: list[Req], catalogue: Catalogue) -> list[Run]:
    runs = []
    for req in reqs:
        job = req.job
        mark = ledger.mark()
        started = time.perf_counter()
        out = agent.invoke({"messages": [HumanMessage(req.text)]})
        seconds = time.perf_counter() - started
        calls = ledger.since(mark)
        messages = out["messages"]
        runs.append(
            Run(
                job,
                seconds,
                sum(c.seconds for c in calls),
                len(calls),
                sum(c.prompt_tokens for c in calls),
                sum(c.completion_tokens for c in calls),
                _peer_grounded(job, messages, catalogue),
                "answer",
            )
        )
    return runs


@dataclass
class Agents:
    warden: Any
    warden_ledger: Ledger
    peer: Any
    peer_ledger: Ledger
    store: Any
    catalogue: Catalogue


def build_agents(ctx: Context, retriever: Any, name: str) -> Agents:
    """Warden (its own factory) and the ReAct peer over the same retriever, store and catalogue."""
    from langgraph.prebuilt import create_react_agent

    from agent.service import build_warden
    from knowledge.catalogue import load_catalogue
    from tools.cases import load_sample
    from tools.gates import load_gates
    from tools.store import Store

    settings = ctx.settings(f"agent-{name}")
    catalogue = load_catalogue(settings.catalogue_dir)
    store = Store.open(f"sqlite:///{Path(settings.home) / 'warden.db'}")
    load_sample(store, catalogue)
    warden_model = CountingChatModel(responder=warden_responder)
    warden = build_warden(
        settings, model=warden_model, retriever=retriever, store=store, catalogue=catalogue
    )
    peer_model = CountingChatModel(responder=peer_responder)
    tools = make_tools(retriever, store, catalogue, load_gates(settings.gates_file))
    peer = create_react_agent(peer_model, tools, prompt=PEER_SYSTEM)
    return Agents(warden, warden_model.ledger, peer, peer_model.ledger, store, catalogue)


def _retriever(ctx: Context, collection: str) -> Any:
    from knowledge.retrieval import build_retriever

    return build_retriever(
        ctx.index_settings, embedder=ctx.embedder, client=ctx.client, collection=collection
    )


def _ensure_policies(ctx: Context, collection: str) -> None:
    from knowledge.index import ingest

    settings = ctx.index_settings
    ingest(
        settings.policies_dirs,
        settings=settings,
        client=ctx.client,
        embedder=ctx.cached_embedder,
        collection=collection,
    )


def _by_job(runs: list[Run]) -> dict[str, list[Run]]:
    return {job: [r for r in runs if r.job == job] for job in JOBS}


def time_outside_model(ctx: Context) -> Section:
    section = Section(
        key="agent_time", title="4. Time inside Warden per request, outside the model"
    )
    why = missing("agent.service", "knowledge.retrieval", "tools.store", "tools.cases")
    if why:
        return section.not_measured(why)
    from bench.query import FULL_SIZES, QUICK_SIZES, synthetic_parts
    from knowledge.index import ingest

    filler = 1_000 if ctx.quick else 10_000
    synth = synthetic_parts(ctx, (QUICK_SIZES if ctx.quick else FULL_SIZES)[-1])
    _ensure_policies(ctx, AGENT_COLLECTION)
    synthetic_settings = ctx.settings("index", policies_dirs=[synth.corpus.root])
    ingest(
        synth.corpus.files[: filler // 250],
        settings=synthetic_settings,
        client=ctx.client,
        embedder=synth.mixture,
        collection=AGENT_COLLECTION,
    )
    retriever = _retriever(ctx, AGENT_COLLECTION)
    chunks = int(retriever.collection.count())
    agents = build_agents(ctx, retriever, "time")
    per_job = 3 if ctx.quick else (25 if ctx.time_left() > 700 else 10)
    reqs = requests(ctx, agents.store, per_job)
    # Query embedding single-threaded, as in the query section (see its thread experiment).
    with torch_threads(1):
        # Warm-up: first requests pay for lazy imports, the HNSW load, the checkpointer tables.
        run_warden(agents.warden, agents.warden_ledger, reqs[:4], agents.catalogue)
        run_peer(agents.peer, agents.peer_ledger, reqs[:4], agents.catalogue)
        warden_runs = run_warden(agents.warden, agents.warden_ledger, reqs, agents.catalogue)
        peer_runs = run_peer(agents.peer, agents.peer_ledger, reqs, agents.catalogue)
        asks = [
            r for r in requests(ctx, agents.store, 20 if not ctx.quick else 4) if r.job == "ask"
        ]
        pending = iter(asks)
        where = profile(
            lambda: run_warden(
                agents.warden, agents.warden_ledger, [next(pending)], agents.catalogue
            ),
            len(asks),
        )
    agents.warden.close()
    agents.store.close()
    table = []
    for job, runs in _by_job(warden_runs).items():
        peer = _by_job(peer_runs)[job]
        w = [r.outside_ms for r in runs]
        pv = [r.outside_ms for r in peer]
        table.append(
            {
                "job": job,
                "requests": len(runs),
                "Warden median ms": round(median(w), 1),
                "Warden p99 ms": round(p99(w), 1),
                "ReAct peer median ms": round(median(pv), 1),
                "ReAct peer p99 ms": round(p99(pv), 1),
                "Warden outcome": ", ".join(sorted({r.outcome for r in runs})),
            }
        )
        goal = "< 50 ms" if job == "ask" else None
        section.figures.append(
            Figure(
                name=f"{job}: time outside the model, median (p99 {p99(w):.0f} ms)",
                value=round(median(w), 1),
                unit="ms",
                peer="ReAct peer, same requests, retriever and tools (peer)",
                peer_value=round(median(pv), 1),
                ratio=round(median(w) / median(pv), 2) if median(pv) else None,
                ratio_label="Warden / ReAct",
                goal=goal,
                met=median(w) < 50 if goal else None,
            )
        )
    section.data = {
        "table": table,
        "chunks": chunks,
        "profiles": {"ask": where},
        "profile": [
            f"Warden ask request at {chunks:,} chunks: {describe(where)}; top: "
            + "; ".join(where["top_functions"][:3])
        ],
    }
    section.notes.append(
        f"Index: Warden's policies plus synthetic filler, {chunks:,} chunks. Each request is free "
        "text (as from Slack) through `Warden.handle` with the real retriever, SQLite store and "
        "SQLite checkpointer; the model answers at once and its time is subtracted."
    )
    return section


def _mean(runs: list[Run], attr: str) -> float:
    return sum(float(getattr(r, attr)) for r in runs) / len(runs)


def calls_and_tokens(ctx: Context) -> Section:
    section = Section(
        key="agent_cost", title="5. Model calls and prompt tokens per job against a ReAct agent"
    )
    why = missing(
        "agent.service", "knowledge.retrieval", "tools.store", "tools.cases", "langgraph.prebuilt"
    )
    if why:
        return section.not_measured(why)
    _ensure_policies(ctx, POLICY_COLLECTION)
    agents = build_agents(ctx, _retriever(ctx, POLICY_COLLECTION), "cost")
    reqs = requests(ctx, agents.store, 2 if ctx.quick else 6)
    with torch_threads(1):
        free = _by_job(run_warden(agents.warden, agents.warden_ledger, reqs, agents.catalogue))
        command = _by_job(
            run_warden(agents.warden, agents.warden_ledger, reqs, agents.catalogue, command=True)
        )
        peer_runs = _by_job(run_peer(agents.peer, agents.peer_ledger, reqs, agents.catalogue))
    agents.warden.close()
    agents.store.close()
    table = []
    peer_name = "LangGraph create_react_agent, same tools and requests (peer)"
    for job in JOBS:
        p = peer_runs[job]
        pc, pt = _mean(p, "calls"), _mean(p, "prompt_tokens")
        pg = sum(r.grounded for r in p)
        for variant, w in (("free text", free[job]), ("/warden command", command[job])):
            wc, wt = _mean(w, "calls"), _mean(w, "prompt_tokens")
            wg = sum(r.grounded for r in w)
            table.append(
                {
                    "job": job,
                    "Warden request": variant,
                    "Warden calls": round(wc, 2),
                    "ReAct calls": round(pc, 2),
                    "Warden prompt tokens": round(wt),
                    "ReAct prompt tokens": round(pt),
                    "Warden grounded": f"{wg}/{len(w)}",
                    "ReAct grounded": f"{pg}/{len(p)}",
                    "Warden outcome": ", ".join(sorted({r.outcome for r in w})),
                }
            )
            grounded = wg == len(w) and pg == len(p)
            label = f"{job} ({variant})"
            section.figures += [
                Figure(
                    name=f"{label}: model calls per request",
                    value=round(wc, 2),
                    unit="calls",
                    peer=peer_name,
                    peer_value=round(pc, 2),
                    ratio=round(wc / pc, 2) if pc else None,
                    ratio_label="Warden / ReAct",
                    goal="<= 0.5",
                    met=bool(pc) and wc / pc <= 0.5,
                ),
                Figure(
                    name=f"{label}: prompt tokens per request"
                    + (
                        ""
                        if grounded
                        else f" (grounded: Warden {wg}/{len(w)}, ReAct {pg}/{len(p)})"
                    ),
                    value=round(wt),
                    unit="tokens",
                    peer=peer_name,
                    peer_value=round(pt),
                    ratio=round(wt / pt, 2) if pt else None,
                    ratio_label="Warden / ReAct",
                    goal="<= 0.67, grounding checks pass",
                    met=bool(pt) and wt / pt <= 2 / 3 and grounded,
                ),
            ]
    section.data = {"table": table}
    section.notes += [
        "Tokens: OpenAI's o200k tokenizer (bpe-openai, offline) over the exact messages of each "
        "call plus the JSON schema (Warden's structured calls) or tool schemas (the ReAct "
        "agent's calls) sent with it, +3 per message and per reply as in OpenAI's chat format.",
        "The peer's model takes the fewest steps each job allows with these tools: ask = search, "
        "answer; recommend = get_case, search, answer; escalate = get_case, search, "
        "open_escalation, answer; propose = get_cluster, propose_action, answer. Its answers "
        "use the same wording as Warden's scripted replies.",
        "Grounding checks: answers cite only sections retrieved in that request; a "
        "recommendation's action is allowed by the catalogue for its section; an escalation was "
        "opened; a proposal is pending (or refused by Warden's automation gate).",
        "Each request is sent to Warden twice: as free text (what the peer gets; Warden's "
        "router spends one small model call) and as the `/warden` command would send it "
        "(intent and ids given, no routing call). The peer only takes free text.",
    ]
    return section
