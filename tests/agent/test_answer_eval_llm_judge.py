"""`warden eval-answers` faithfulness: a scripted LLM judge, claims against the cited sections."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent import answer_eval
from agent.interface import Citation, PolicyAnswer
from tests.fakes.chat import ScriptedChatModel


def cite(sid: str) -> Citation:
    return Citation(
        section_id=sid, title="t", policy_id="HA", policy_version="3", source="s", excerpt="e"
    )


def answer(text: str, *sids: str, mode: str = "llm", low: bool = False) -> PolicyAnswer:
    return PolicyAnswer(
        text=text,
        citations=[cite(s) for s in sids],
        mode=mode,  # type: ignore[arg-type]
        low_confidence=low,
    )


def test_faithfulness_is_supported_claims_over_claims() -> None:
    judge = ScriptedChatModel().enqueue(
        {
            "claims": [
                {"claim": "rats comparisons violate", "supported": True, "section_ids": ["HA-2.1"]},
                {"claim": "jokes are exempt", "supported": False, "section_ids": []},
            ]
        },
        # "supported" but naming no cited section does not count as supported.
        {"claims": [{"claim": "x", "supported": True, "section_ids": ["GV-1"]}]},
    )
    answers = [
        answer("Rats comparisons violate [HA-2.1]; jokes are exempt.", "HA-2.1"),
        answer("Something [HA-3.1].", "HA-3.1"),
        answer("quoted excerpts", "HA-2.1", mode="excerpts"),  # quotes: not judged
        answer("I found nothing.", low=True),  # abstained: no claims
    ]
    texts = {"HA-2.1": "FULL TEXT OF HA-2.1", "HA-3.1": "FULL TEXT OF HA-3.1"}
    faith = answer_eval.judge(judge, answers, texts)
    assert (faith.claims, faith.supported, faith.judged) == (3, 1, 2)
    assert faith.score == round(1 / 3, 4)
    assert judge.remaining == 0 and len(judge.calls) == 2
    # The judge sees the full text of the cited sections, and only those ids are allowed.
    first = str(judge.calls[0][-1].content)
    assert "FULL TEXT OF HA-2.1" in first and "HA-3.1" not in first
    [fmt, _] = [b["structured_output"] for b in judge.bound if "structured_output" in b]
    items = fmt["schema"]["properties"]["claims"]["items"]["properties"]["section_ids"]["items"]
    assert items["enum"] == ["HA-2.1"] and fmt["strict"] is True


def test_an_unusable_judge_reply_is_left_out_not_counted_as_supported() -> None:
    judge = ScriptedChatModel().enqueue("not json at all")
    faith = answer_eval.judge(judge, [answer("Claim [HA-2.1].", "HA-2.1")], {})
    assert (faith.claims, faith.judged, faith.score) == (0, 0, None)


def test_faithfulness_is_stored_with_the_run_and_read_back(tmp_path: Path) -> None:
    golden = [answer_eval.Golden("q1", "is it ok?", ("HA-2.1",))]
    run = answer_eval.score(
        golden, [answer("x [HA-2.1]", "HA-2.1")], name="set.jsonl", prompt="p2", model="m"
    )
    answer_eval.save(tmp_path, replace(run, faithfulness=0.75, claims=4))
    prev = answer_eval.previous(tmp_path, "set.jsonl")
    assert prev is not None and prev.faithfulness == 0.75 and prev.claims == 4
    assert prev.prompt_version == "p2" and prev.model == "m"


def test_section_texts_reads_the_policy_documents() -> None:
    texts = answer_eval.section_texts([Path("knowledge/policies")])
    assert "HA-2.1" in texts and "protected group" in texts["HA-2.1"]
