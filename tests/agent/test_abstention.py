"""Calibrated abstention: the rule, its measured rates on the labelled set, non-English notes."""

from __future__ import annotations

from typing import Any

from agent import abstention
from agent.deps import Deps
from agent.interface import Intent, PolicyAnswer, WardenRequest


def test_rule_answers_on_strong_similarity_or_agreeing_words() -> None:
    rule = abstention.Rule(min_confidence=0.44, min_overlap=0.5)
    assert rule.answers(0.50, 0.0)
    assert rule.answers(0.35, 0.6)
    assert not rule.answers(0.35, 0.3)
    assert not rule.answers(0.20, 1.0)  # words alone, with no similarity at all, are not enough


def test_rates_on_the_labelled_set_meet_the_goal(policy_retriever: Any, catalogue: Any) -> None:
    deps = Deps(retriever=policy_retriever, catalogue=catalogue, backend=None)  # type: ignore[arg-type]
    rows = abstention.load_set()
    assert sum(not r.answerable for r in rows) >= 50
    got = abstention.rates(rows, abstention.measure(deps, rows), abstention.RULE)
    assert got.false_answer <= 0.10 and got.false_abstain <= 0.10


def test_off_topic_question_abstains_and_offers_escalation(make_warden: Any) -> None:
    out = make_warden().handle(
        WardenRequest(
            thread_id="t-abs",
            user_id="U1",
            intent=Intent.ASK,
            text="what's the best way to water succulents in winter?",
        )
    )
    assert isinstance(out, PolicyAnswer) and out.low_confidence and out.offer_escalation


def test_non_english_question_gets_a_note(make_warden: Any) -> None:
    assert abstention.looks_non_english("¿Está permitido un meme que compara a un grupo con ratas?")
    assert not abstention.looks_non_english("is a meme comparing a group to rats allowed?")
    out = make_warden().handle(
        WardenRequest(
            thread_id="t-abs2",
            user_id="U1",
            intent=Intent.ASK,
            text="Ist ein Meme erlaubt, das Einwanderer mit Ratten vergleicht?",
        )
    )
    assert isinstance(out, PolicyAnswer) and "English documents" in out.text
