"""The evaluation harness: labelled cases through the recommendation path, scored and stored."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import select

from agent.interface import Recommendation
from ops.loaders import LabelledCase
from ops.metrics import EvalMetrics, Prediction, compute
from tools.models import Case
from tools.ops_tables import EvalPolicyRow, EvalRunRow
from tools.store import Store
from warden.errors import NotFoundError, WardenError

if TYPE_CHECKING:
    from warden.settings import Settings

log = logging.getLogger(__name__)

Recommender = Callable[[Case], Recommendation]
Progress = Callable[[int], None]


class EvalRun(BaseModel):
    """A finished evaluation run, as stored."""

    id: str
    dataset: str
    mapping: str
    mode: str
    model: str | None
    started_at: datetime
    finished_at: datetime
    n_cases: int
    row_limit: int | None
    seconds: float
    metrics: EvalMetrics

    @property
    def seconds_per_1000(self) -> float:
        return self.seconds / self.n_cases * 1000 if self.n_cases else 0.0


def predict(
    rows: Sequence[LabelledCase], recommend: Recommender, *, progress: Progress | None = None
) -> list[Prediction]:
    """Run every case through the recommendation path; a failing case counts as an abstention."""
    preds = []
    for row in rows:
        try:
            preds.append(Prediction.from_recommendation(recommend(row.case)))
        except WardenError as exc:
            # Logged by case id only: data set text stays out of logs meant for people.
            log.warning("recommendation failed for %s: %s", row.case.id, type(exc).__name__)
            preds.append(
                Prediction(
                    case_id=row.case.id,
                    outcome="abstained",
                    policy_id=None,
                    action=None,
                    confidence=0.0,
                    mode="error",
                )
            )
        if progress is not None:
            progress(1)
    return preds


def evaluate(
    rows: Sequence[LabelledCase],
    recommend: Recommender,
    *,
    dataset: str,
    mapping: str,
    mode: str,
    model: str | None = None,
    row_limit: int | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Score the recommendation path on labelled rows (not stored; see `save_run`)."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    preds = predict(rows, recommend, progress=progress)
    seconds = time.perf_counter() - clock
    return EvalRun(
        id=f"ev-{started:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}",
        dataset=dataset,
        mapping=mapping,
        mode=mode,
        model=model,
        started_at=started,
        finished_at=datetime.now(UTC),
        n_cases=len(rows),
        row_limit=row_limit,
        seconds=round(seconds, 3),
        metrics=compute(rows, preds),
    )


def save_run(store: Store, run: EvalRun) -> None:
    """Store the run and its per-policy figures (what the gates read)."""
    with store.session() as s:
        s.add(
            EvalRunRow(
                id=run.id,
                dataset=run.dataset,
                mapping=run.mapping,
                mode=run.mode,
                model=run.model,
                started_at=run.started_at,
                finished_at=run.finished_at,
                n_cases=run.n_cases,
                row_limit=run.row_limit,
                seconds=run.seconds,
                metrics=run.metrics.model_dump(mode="json"),
            )
        )
        s.flush()
        for m in run.metrics.policies:
            s.add(
                EvalPolicyRow(
                    run_id=run.id,
                    policy_id=m.key,
                    tp=m.tp,
                    fp=m.fp,
                    fn=m.fn,
                    tn=m.tn,
                    support=m.support,
                    precision=m.precision,
                    recall=m.recall,
                    abstained=m.abstained,
                    escalated=m.escalated,
                )
            )


def _run(row: EvalRunRow) -> EvalRun:
    return EvalRun(
        id=row.id,
        dataset=row.dataset,
        mapping=row.mapping,
        mode=row.mode,
        model=row.model,
        started_at=row.started_at,
        finished_at=row.finished_at,
        n_cases=row.n_cases,
        row_limit=row.row_limit,
        seconds=row.seconds,
        metrics=EvalMetrics.model_validate(row.metrics),
    )


def list_runs(store: Store, *, dataset: str | None = None, limit: int = 20) -> list[EvalRun]:
    """Newest first."""
    with store.session() as s:
        query = select(EvalRunRow).order_by(EvalRunRow.finished_at.desc(), EvalRunRow.id.desc())
        if dataset:
            query = query.where(EvalRunRow.dataset == dataset)
        return [_run(r) for r in s.scalars(query.limit(limit))]


def get_run(store: Store, run_id: str) -> EvalRun:
    with store.session() as s:
        row = s.get(EvalRunRow, run_id)
        if row is None:
            raise NotFoundError(f"No evaluation run {run_id!r}; list them with `warden eval-runs`.")
        return _run(row)


def previous_run(store: Store, run: EvalRun) -> EvalRun | None:
    """The run just before this one on the same data set, mapping and row limit."""
    with store.session() as s:
        row = s.scalars(
            select(EvalRunRow)
            .where(
                EvalRunRow.dataset == run.dataset,
                EvalRunRow.mapping == run.mapping,
                # A 50-row smoke run is no baseline for a full run, nor the other way round.
                EvalRunRow.row_limit.is_(None)
                if run.row_limit is None
                else EvalRunRow.row_limit == run.row_limit,
                EvalRunRow.finished_at < run.finished_at,
                EvalRunRow.id != run.id,
            )
            .order_by(EvalRunRow.finished_at.desc())
            .limit(1)
        ).first()
        return _run(row) if row else None


def agent_recommender(settings: Settings, store: Store) -> tuple[Recommender, str, str | None]:
    """The agent's own recommendation path: (recommend, mode, model name).

    With an LLM configured this is the structured-output path with its catalogue checks; without
    one it is the no-LLM path (signal rules, then retrieval over the content). The index must
    have been built with `warden ingest`.
    """
    from agent.llm import model_name
    from agent.recommend import recommend

    deps = agent_deps(settings, store)
    model = deps.model

    def run(case: Case) -> Recommendation:
        return recommend(deps, case)[0]

    return run, ("llm" if model is not None else "rules"), model_name(model)


def agent_deps(settings: Settings, store: Store) -> Any:
    """The `agent.deps.Deps` the recommendation path runs with (model only when configured)."""
    from agent.backend import ToolsBackend
    from agent.deps import Deps
    from agent.llm import build_chat_model
    from knowledge.catalogue import load_catalogue
    from knowledge.retrieval import build_retriever

    catalogue = load_catalogue(settings.catalogue_dir)
    return Deps(
        retriever=build_retriever(settings),
        catalogue=catalogue,
        backend=ToolsBackend(store, catalogue),
        model=build_chat_model(settings) if settings.llm_enabled else None,
        vision=settings.llm_vision,
    )
