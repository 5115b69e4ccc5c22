"""Measure what a request costs in Warden itself: time outside the model, model calls, tokens.

    python -m agent.measure --json [--requests 20] [--home DIR]

Honest set-up: the real retriever (MiniLM + embedded Chroma + lexical index) over Warden's own
policies, a real SQLite store with the sample data, a real SQLite checkpointer. The model is a
replay model that answers instantly and correctly shaped (it cites the first given section and
picks an allowed action), so "outside the model" is all Warden: routing, retrieval, prompt
building, validation, store reads, checkpoint writes. Model time is measured inside the model
and subtracted. Tokens are estimated as characters / 4 (no tokenizer data offline), counted on
exactly the messages Warden would send.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import PrivateAttr

from agent.router import route_by_rules

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_SECTION_HEAD = re.compile(r"^\[([A-Z]{2,4}-\d+(?:\.\d+)*)\] .*\nallowed actions: (.*)$", re.M)
_ANY_SECTION = re.compile(r"^\[([A-Z]{2,4}-\d+(?:\.\d+)*)\] ", re.M)


def _text(messages: Sequence[BaseMessage]) -> str:
    parts: list[str] = []
    for m in messages:
        if isinstance(m.content, str):
            parts.append(m.content)
        else:
            parts.extend(
                str(p.get("text", "")) for p in m.content if isinstance(p, dict) and "text" in p
            )
    return "\n".join(parts)


class ReplayModel(BaseChatModel):
    """Answers every structured call instantly with a valid reply derived from the prompt."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _seconds: float = PrivateAttr(default=0.0)
    _calls: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "replay"

    def take_seconds(self) -> float:
        with self._lock:
            spent, self._seconds = self._seconds, 0.0
            return spent

    def _reply(self, name: str, messages: list[BaseMessage]) -> dict[str, Any]:
        prompt = _text(messages)
        if name == "route":
            return {"intent": route_by_rules(_text(messages[-1:])).intent.value}
        if name == "policy_answer":
            ids = _ANY_SECTION.findall(prompt)
            return {
                "answer": f"Per the policy, this is covered [{ids[0]}]." if ids else "Not covered.",
                "cited_section_ids": ids[:1],
                "grounded": bool(ids),
            }
        for sid, actions in _SECTION_HEAD.findall(prompt):
            allowed = [a.strip() for a in actions.split(",") if a.strip() != "none"]
            if allowed:
                return {
                    "section_ids": [sid],
                    "verdict": "violating",
                    "action": allowed[min(1, len(allowed) - 1)],
                    "confidence": 0.8,
                    "rationale": f"The content matches [{sid}].",
                    "escalate": False,
                }
        return {
            "section_ids": [],
            "verdict": "not_violating",
            "action": None,
            "confidence": 0.6,
            "rationale": "Nothing applies.",
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        start = time.perf_counter()
        name = str(kwargs.get("reply_name", "recommendation"))
        body = json.dumps(self._reply(name, messages))
        prompt_chars = len(_text(messages))
        message = AIMessage(
            content=body,
            usage_metadata={
                "input_tokens": prompt_chars // 4,
                "output_tokens": len(body) // 4,
                "total_tokens": (prompt_chars + len(body)) // 4,
            },
        )
        with self._lock:
            self._seconds += time.perf_counter() - start
            self._calls += 1
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(
        self, schema: dict[str, Any] | type, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[Any, Any]:
        name = str(schema.get("name", "")) if isinstance(schema, dict) else schema.__name__

        def run(messages: Any) -> Any:
            raw = self.invoke(messages, reply_name=name)
            parsed = json.loads(str(raw.content))
            return {"raw": raw, "parsed": parsed, "parsing_error": None} if include_raw else parsed

        return RunnableLambda(run)


class Clock:
    """Accumulates seconds spent in wrapped calls (retrieval, checkpoint I/O)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def take(self) -> float:
        spent, self.seconds = self.seconds, 0.0
        return spent

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


@contextmanager
def _environment(home: Path | None, requests: int) -> Iterator[dict[str, Any]]:
    from agent.checkpoint import sqlite_checkpoints
    from knowledge.catalogue import load_catalogue
    from knowledge.index import build_chroma_client, ingest
    from knowledge.retrieval import build_retriever
    from tools.cases import load_sample
    from tools.gateway import LocalPlatform
    from tools.store import Store
    from warden.settings import PACKAGE_ROOT, Settings

    with tempfile.TemporaryDirectory(prefix="warden-measure-") as tmp:
        folder = home or Path(tmp)
        settings = Settings(WARDEN_HOME=folder)
        client = build_chroma_client(settings)
        started = time.perf_counter()
        report = ingest([PACKAGE_ROOT / "knowledge" / "policies"], settings=settings, client=client)
        ingest_s = time.perf_counter() - started
        retriever = build_retriever(settings, client=client)
        retriever.search("warm-up", 1)  # load the model and lexical index outside the timings
        catalogue = load_catalogue()
        store = Store.open(f"sqlite:///{Path(tmp) / 'measure.db'}")
        load_sample(store, catalogue)
        checkpoints = sqlite_checkpoints(str(Path(tmp) / "checkpoints.sqlite"))
        try:
            yield {
                "retriever": retriever,
                "catalogue": catalogue,
                "store": store,
                "gateway": LocalPlatform(store.engine),
                "checkpoints": checkpoints,
                "ingest_s": ingest_s,
                "ingest": str(report)[:200],
                "requests": requests,
            }
        finally:
            checkpoints.close()
            store.close()


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2) if values else 0.0


def run(requests: int = 20, home: Path | None = None) -> dict[str, Any]:
    """Measure every job with and without a model; returns the figures as a dict."""
    from agent.graph import build_graph
    from agent.interface import Intent, WardenRequest
    from agent.service import Warden
    from warden.settings import PACKAGE_ROOT

    questions = [
        json.loads(line)["question"]
        for line in (PACKAGE_ROOT / "knowledge/questions/warden_questions.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    ][:requests]
    with _environment(home, requests) as env:
        retrieval, checkpoint = Clock(), Clock()
        retriever = env["retriever"]
        # Warden embeds the query once and searches by vector; both count as retrieval.
        retriever.search_vector = retrieval.wrap(retriever.search_vector)
        retriever.embedder.embed_query = retrieval.wrap(retriever.embedder.embed_query)
        saver = env["checkpoints"].saver
        for attr in ("put", "put_writes", "get_tuple"):
            setattr(saver, attr, checkpoint.wrap(getattr(saver, attr)))
        case_ids = [c.id for c in env["store"].list_cases(limit=requests)]
        clusters = ["cl-spam-0093", "cl-cf-0021", "cl-ve-0005", "cl-spam-0093", "cl-cf-0021"]
        results: dict[str, Any] = {}
        for mode in ("llm", "no_llm"):
            model = ReplayModel() if mode == "llm" else None
            warden = Warden(
                build_graph(
                    model=model,
                    retriever=retriever,
                    catalogue=env["catalogue"],
                    checkpointer=saver,
                    store=env["store"],
                    gateway=env["gateway"],
                )
            )
            jobs: dict[str, list[WardenRequest]] = {
                "ask": [
                    WardenRequest(
                        thread_id=f"m:{mode}:a{i}", user_id="U", text=q, intent=Intent.ASK
                    )
                    for i, q in enumerate(questions)
                ],
                "ask_free_text": [
                    WardenRequest(thread_id=f"m:{mode}:f{i}", user_id="U", text=q)
                    for i, q in enumerate(questions)
                ],
                "recommend": [
                    WardenRequest(
                        thread_id=f"m:{mode}:r{i}", user_id="U", intent=Intent.RECOMMEND, case_id=c
                    )
                    for i, c in enumerate(case_ids)
                ],
                "escalate": [
                    WardenRequest(
                        thread_id=f"m:{mode}:e{i}", user_id="U", intent=Intent.ESCALATE, case_id=c
                    )
                    for i, c in enumerate(case_ids[:5])
                ],
                "propose_cluster": [
                    WardenRequest(
                        thread_id=f"m:{mode}:p{i}", user_id="U", intent=Intent.PROPOSE, cluster_id=c
                    )
                    for i, c in enumerate(clusters)
                ],
            }
            for job, batch in jobs.items():
                totals, outside, model_s, retr, ckpt = [], [], [], [], []
                calls, prompt_tokens = [], []
                for request in batch:
                    retrieval.take(), checkpoint.take()
                    if model is not None:
                        model.take_seconds()
                    start = time.perf_counter()
                    response = warden.handle(request)
                    total = time.perf_counter() - start
                    in_model = model.take_seconds() if model is not None else 0.0
                    totals.append(total)
                    model_s.append(in_model)
                    outside.append(total - in_model)
                    retr.append(retrieval.take())
                    ckpt.append(checkpoint.take())
                    calls.append(response.usage.model_calls)
                    prompt_tokens.append(response.usage.prompt_tokens)
                results[f"{job}/{mode}"] = {
                    "requests": len(batch),
                    "median_ms_total": _median_ms(totals),
                    "median_ms_outside_model": _median_ms(outside),
                    "median_ms_retrieval": _median_ms(retr),
                    "median_ms_outside_model_and_retrieval": _median_ms(
                        [o - r for o, r in zip(outside, retr, strict=True)]
                    ),
                    "median_ms_checkpoint": _median_ms(ckpt),
                    "median_ms_in_model": _median_ms(model_s),
                    "model_calls_per_request": round(statistics.mean(calls), 2) if calls else 0,
                    "median_prompt_tokens_est": statistics.median(prompt_tokens)
                    if prompt_tokens
                    else 0,
                }
        return {
            "setup": {
                "retriever": f"{retriever.mode} over knowledge/policies (MiniLM, embedded Chroma)",
                "store": "SQLite (sample data)",
                "checkpointer": "SQLite",
                "model": "replay model (instant, valid replies); tokens = chars/4 estimate",
                "ingest_s": round(env["ingest_s"], 1),
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "note": "ms are medians per request; checkpoint writes run in LangGraph's "
                "background executor (durability 'async') and partly overlap the next step, "
                "so ckpt is not a slice of total",
            },
            "jobs": results,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--requests", type=int, default=20, help="requests per job (max 120)")
    parser.add_argument("--home", type=Path, default=None, help="data folder for the index")
    args = parser.parse_args(argv)
    figures = run(args.requests, args.home)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(json.dumps(figures["setup"], indent=2))
    print(
        f"{'job':24} {'total':>8} {'outside':>8} {'retr':>8} {'rest':>8} {'ckpt*':>8} "
        f"{'calls':>6} {'tokens':>7}"
    )
    for job, row in figures["jobs"].items():
        print(
            f"{job:24} {row['median_ms_total']:8.1f} {row['median_ms_outside_model']:8.1f} "
            f"{row['median_ms_retrieval']:8.1f} "
            f"{row['median_ms_outside_model_and_retrieval']:8.1f} "
            f"{row['median_ms_checkpoint']:8.1f} "
            f"{row['model_calls_per_request']:6.2f} {row['median_prompt_tokens_est']:7.0f}"
        )


if __name__ == "__main__":
    main()
