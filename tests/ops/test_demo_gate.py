"""The demo's automation gate: our own labelled HA set opens the HA gate through the real check.

`make demo` runs the evaluation harness on tools/sample/labelled/ha_eval.jsonl (no-LLM), stores
the run and switches HA to propose with `tools.gates.set_mode`. These tests run the same code
(`slackapp.demo.automation.open_gate` and friends) against a fresh store and the session's
policy index.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from knowledge.catalogue import load_catalogue
from ops.loaders import load_dataset
from ops.mappings import OWN_FORMAT, detect_mapping
from slackapp.demo.automation import EVAL_SET, open_gate, switch_to_propose
from slackapp.demo.world import ROOT, Transcript
from tools.gates import DEFAULT_GATES_FILE, GateClosed, GateMode, Gates, check, load_gates, set_mode
from tools.sample.labelled.build import build
from tools.store import Store


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]


def test_the_file_is_what_the_generator_writes() -> None:
    assert _rows() == build(), "run `python -m tools.sample.labelled.build` after editing it"


def test_the_set_is_large_mixed_and_in_the_harness_format() -> None:
    rows = _rows()
    labelled = load_dataset(EVAL_SET, detect_mapping(EVAL_SET))
    assert detect_mapping(EVAL_SET).name == OWN_FORMAT
    assert len(labelled) == len(rows) >= 260
    assert len({r["id"] for r in rows}) == len(rows)
    violating = [r for r in rows if r["expected_policy"] == "HA"]
    lookalikes = [r for r in rows if r["expected_policy"] is None]
    assert len(violating) >= 210 and len(violating) + len(lookalikes) == len(rows)
    assert all(r["group"].startswith("HA-2.") for r in violating)
    assert {r["group"] for r in lookalikes} == {"HA-3.1", "HA-3.2", "HA-3.3", "HA-3.4"}
    assert all(r["case"]["signals"] for r in rows), "every row carries detector scores"


def test_detector_scores_are_imperfect_so_the_figures_are_measured() -> None:
    """Some violations fire no catalogue rule and some look-alikes do: not 1.0 by construction."""
    catalogue = load_catalogue(ROOT / "knowledge" / "catalogue")
    fired: Counter[tuple[bool, bool]] = Counter()
    for row in _rows():
        matches = catalogue.match_signals(row["case"]["signals"])
        fired[(row["expected_policy"] == "HA", any(m.policy_id == "HA" for m in matches))] += 1
    assert fired[(True, False)] >= 10, "violations the rules cannot act on (recall < 1)"
    assert 1 <= fired[(False, True)] <= 10, "look-alikes the rules act on (precision < 1)"


def test_without_an_evaluation_set_mode_refuses(store: Store) -> None:
    gates = load_gates(DEFAULT_GATES_FILE)
    with pytest.raises(GateClosed, match="no stored evaluation"):
        set_mode(store, gates, "HA", GateMode.PROPOSE, actor="test")
    decision = check(store, gates, "HA", 400)
    assert (decision.allowed, decision.record_shadow) == (False, True)


def _strict(gates: Gates, min_precision: float) -> Gates:
    ha = gates.rule("HA").model_copy(update={"min_precision": min_precision})
    return Gates(
        source="strict (test)", defaults=gates.defaults, policies={**gates.policies, "HA": ha}
    )


def test_the_demo_evaluation_opens_the_gate_in_a_fresh_store(
    sqlite_ops_store: Store,
    policy_retriever: Any,
    policy_settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gates = load_gates(DEFAULT_GATES_FILE)
    rule = gates.rule("HA")
    t = Transcript(standin=None)

    assert open_gate(t, policy_settings, sqlite_ops_store, gates)

    out = capsys.readouterr().out
    # First the real refusal, then the measured figures, then the real switch.
    assert out.index("Refused: HA cannot be switched") < out.index("HA precision")
    assert out.index("HA precision") < out.index("Done: HA is in propose mode")
    decision = check(sqlite_ops_store, gates, "HA", 400)
    assert decision.allowed and decision.evidence is not None
    evidence = decision.evidence
    assert evidence.dataset == EVAL_SET.name
    assert evidence.precision is not None and evidence.precision >= rule.min_precision
    assert evidence.support >= rule.min_support
    assert evidence.precision < 1.0, "the look-alikes the rules act on must count"
    assert f"HA precision {evidence.precision:.3f}" in out
    assert f"support {evidence.support} labelled positives" in out

    # Thresholds the figures do not meet: the same check refuses, and the transcript says so.
    strict = _strict(gates, min_precision=round(evidence.precision + 0.01, 2))
    assert not switch_to_propose(t, sqlite_ops_store, strict, first=False)
    out = capsys.readouterr().out
    assert "Refused: HA cannot be switched" in out and f"{evidence.precision:.3f}" in out
    assert "stays in shadow mode" in out
