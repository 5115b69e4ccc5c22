"""No-LLM judgment separates stance: the policy's stance classifier over the real index."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from agent.backend import ToolsBackend
from agent.deps import Deps
from agent.recommend import case_sections, rules_recommendation
from agent.stance import fit, framing, written_examples
from tools.models import Case, ContentItem

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from knowledge.retrieval import Retriever
    from tools.store import Store


def test_written_examples_name_the_policys_violation_and_exception_sections(
    catalogue: Catalogue,
) -> None:
    examples = written_examples("HA")
    assert examples, "the HA stance examples are missing"
    kinds = {catalogue.section(sid).kind.value for sid in examples}
    assert kinds == {"violation", "exception"}
    assert all(sid.startswith("HA-") for sid in examples)
    assert written_examples("NO-SUCH-POLICY") == {}


def test_framing_leaves_out_words_reported_from_someone_else() -> None:
    said = "I blocked him after he said refugees are a disease."
    assert framing(said) == "I blocked him after he said … ."
    assert "disease" not in framing("Why do you keep calling migrants a disease, it is cruel")
    # The poster's own opinion is not a report: it stays whole.
    own = "I think refugees are a disease."
    assert framing(own) == own


def test_fit_needs_both_sides_and_separates_them() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.5, 0.1, (20, 4))
    b = rng.normal(-0.5, 0.1, (20, 4))
    w, bias = fit(np.vstack([a, b]), np.array([1.0] * 20 + [0.0] * 20))
    assert (a @ w + bias > 0).all() and (b @ w + bias < 0).all()
    with pytest.raises(ValueError, match="both sides"):
        fit(a, np.ones(20))


def _case(text: str, signals: dict[str, float]) -> Case:
    return Case(
        id="case-stance",
        opened_at=datetime(2026, 12, 1, tzinfo=UTC),
        items=[ContentItem(id="i", kind="comment", author_id="acct-1001", text=text)],
        signals=signals,
        source="classifier",
    )


@pytest.fixture
def deps(policy_retriever: Retriever, catalogue: Catalogue, sample_store: Store) -> Deps:
    return Deps(
        retriever=policy_retriever,
        catalogue=catalogue,
        backend=ToolsBackend(sample_store, catalogue),
    )


def _draft(deps: Deps, text: str, signals: dict[str, float] | None = None) -> Any:
    case = _case(text, signals or {"hate": 0.95})
    sections, confidence = case_sections(deps, case)
    return rules_recommendation(deps, case, sections, confidence)


# Sentences written for this test (not in the stance examples, not from any data set).
@pytest.mark.parametrize(
    "text",
    [
        "Anyone telling my neighbours that Sikhs are dirty should be ashamed of themselves.",
        "A group of deaf students visited the city library on Tuesday.",
        "Honestly, Polish builders did a wonderful job on our kitchen.",
        "My landlord is a greedy crook and I hate him.",
    ],
)
def test_a_fired_signal_on_non_attacks_is_routed_to_a_specialist(deps: Deps, text: str) -> None:
    rec = _draft(deps, text)
    assert rec.verdict == "borderline" and rec.action is None
    assert deps.catalogue.section(rec.section_ids[0]).kind.value == "exception"
    assert "stance check puts the violation at" in rec.rationale


@pytest.mark.parametrize(
    "text",
    [
        "Hindus are filthy animals and I hate every one of them.",
        "Muslims are disgusting parasites and should all be deported.",
    ],
)
def test_a_fired_signal_on_attacks_stays_violating(deps: Deps, text: str) -> None:
    rec = _draft(deps, text)
    assert rec.verdict == "violating" and rec.action is not None


def test_an_exception_draft_on_an_imminent_harm_rule_still_escalates(deps: Deps) -> None:
    rec = _draft(
        deps,
        "People who post 'we will burn their temple on Friday' must be reported to the police.",
        {"hate/threatening": 0.9},
    )
    assert rec.verdict == "borderline" and rec.action is None and rec.escalate


def test_split_keeps_each_template_in_one_half(tmp_path: Path) -> None:
    from ops.judgment import split_halves

    source = tmp_path / "set.csv"
    lines = ["case_id,templ_id,test_case"] + [f"{i},{i % 7},text {i}" for i in range(70)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dev, test = split_halves(source, "templ_id", tmp_path / "halves")
    halves = [dev.read_text().splitlines()[1:], test.read_text().splitlines()[1:]]
    assert len(halves[0]) + len(halves[1]) == 70 and halves[0] and halves[1]
    templates = [{row.split(",")[1] for row in half} for half in halves]
    assert not templates[0] & templates[1]
    assert split_halves(source, "templ_id", tmp_path / "again")[0].read_text() == dev.read_text()
