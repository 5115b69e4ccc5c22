"""Calibrated abstention: the rule, its measured rates on the labelled set, non-English notes."""

from __future__ import annotations

from typing import Any

from agent import abstention
from agent.deps import Deps
from agent.interface import Intent, PolicyAnswer, WardenRequest


def test_rule_answers_on_strong_similarity_or_agreeing_words() -> None:
    rule = abstention.Rule(min_confidence=0.44, min_overlap=0.5)
    S = abstention.Signals
    assert rule.answers(S(0.50, 0.0))
    assert rule.answers(S(0.35, 0.6))
    assert not rule.answers(S(0.35, 0.3))
    assert not rule.answers(S(0.20, 1.0))  # words alone, with no similarity at all, are not enough


def test_the_learned_rule_rises_with_every_signal() -> None:
    learned = abstention.LEARNED
    base = abstention.Signals(*learned.mean)
    p = learned.probability(base)
    for i in range(4):  # stronger match, agreement, score and lead: more likely covered
        stronger = list(base)
        stronger[i] += learned.scale[i]
        assert learned.probability(abstention.Signals(*stronger)) > p
    unknown = list(base)
    unknown[4] += learned.scale[4]  # more words no policy uses: less likely covered
    assert learned.probability(abstention.Signals(*unknown)) < p
    assert learned.answers(abstention.Signals(0.7, 0.9, 1.4, 0.6, 0.0))
    assert not learned.answers(abstention.Signals(0.15, 0.2, 1.0, 0.02, 0.5))


def test_the_learned_rule_is_used_only_for_its_ranking_mode() -> None:
    assert abstention.rule_for("blend") is abstention.LEARNED
    assert abstention.rule_for("dense") is abstention.RULE
    assert abstention.rule_for(None) is abstention.RULE


def test_rates_on_the_labelled_set_meet_the_goal(policy_retriever: Any, catalogue: Any) -> None:
    deps = Deps(retriever=policy_retriever, catalogue=catalogue, backend=None)  # type: ignore[arg-type]
    rows = abstention.load_set()
    assert sum(not r.answerable for r in rows) >= 50
    features, mode = abstention.measure(deps, rows)
    got = abstention.rates(rows, features, abstention.rule_for(mode))
    assert got.false_answer <= 0.10 and got.false_abstain <= 0.10
    # Refitting on the set gives a model that meets the goal too. (Its weights are not compared
    # with LEARNED's: Chroma's units query varies between processes, so the signals, and the
    # refitted weights, move a little from run to run; see the README.)
    if mode:
        refit = abstention.fit(rows, features, mode)
        again = abstention.rates(rows, features, refit)
        assert again.false_answer <= 0.10 and again.false_abstain <= 0.10


def test_fitting_separates_a_toy_set() -> None:
    rows = [abstention.Labelled(str(i), "q", i % 2 == 0, "k") for i in range(40)]
    feats = [
        abstention.Signals(
            0.6 if r.answerable else 0.2, 0.5, 1.3 if r.answerable else 1.0, 0.3, 0.0
        )
        for r in rows
    ]
    model = abstention.fit(rows, feats, "blend")
    got = abstention.rates(rows, feats, model)
    assert got.false_answer == 0.0 and got.false_abstain == 0.0


def test_words_no_policy_uses_are_counted(policy_retriever: Any, catalogue: Any) -> None:
    deps = Deps(retriever=policy_retriever, catalogue=catalogue, backend=None)  # type: ignore[arg-type]
    assert abstention.unknown_share(deps, "is a photo of my lunch ok?") == 0.5  # photo, lunch
    assert abstention.unknown_share(deps, "is a threat to kill someone allowed?") == 0.0
    assert (
        abstention.unknown_share(
            Deps(retriever=object(), catalogue=catalogue, backend=None), "lunch"
        )
        == 0.0
    )  # type: ignore[arg-type]


def test_the_issue_examples_abstain(make_warden: Any) -> None:
    for question in ("is it ok to post a photo of my lunch?", "best pasta recipe for tonight?"):
        out = make_warden().handle(
            WardenRequest(thread_id="t-lunch", user_id="U1", intent=Intent.ASK, text=question)
        )
        assert isinstance(out, PolicyAnswer) and out.low_confidence, question


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
