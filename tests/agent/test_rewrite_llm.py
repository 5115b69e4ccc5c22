"""Follow-ups rewritten by the model into standalone questions (scripted model)."""

from __future__ import annotations

from typing import Any

from agent.interface import Intent, PolicyAnswer, Recommendation, WardenRequest
from agent.untrusted import DATAMARK
from tests.fakes.chat import ScriptedChatModel

REC = {
    "policy_id": "HA",
    "section_ids": ["HA-2.1"],
    "verdict": "violating",
    "action": "remove",
    "confidence": 0.8,
    "rationale": "A dehumanising comparison [HA-2.1].",
    "escalate": False,
}
JOKE = (
    "Is dehumanising content about a group still removed under HA when the poster says it is a "
    "joke?"
)


def req(thread: str, text: str = "", **kw: Any) -> WardenRequest:
    return WardenRequest(thread_id=thread, user_id="U-spec", text=text, **kw)


def answer_for(sid: str) -> dict[str, Any]:
    return {"answer": f"Yes [{sid}].", "cited_section_ids": [sid], "grounded": True}


def test_follow_up_after_a_case_is_rewritten_with_the_content_as_data(make_warden: Any) -> None:
    model = ScriptedChatModel().enqueue(REC, {"question": JOKE}, answer_for("HA-2.1"))
    warden = make_warden(model)
    rec = warden.handle(req("t-rw", intent=Intent.RECOMMEND, case_id="case-1001"))
    assert isinstance(rec, Recommendation) and rec.mode == "llm"
    out = warden.handle(req("t-rw", "what if the poster says it's a joke?", intent=Intent.ASK))
    assert isinstance(out, PolicyAnswer) and out.mode == "llm"
    assert [c.section_id for c in out.citations] == ["HA-2.1"]
    assert out.usage.model_calls == 2  # the rewrite and the answer
    rewrite_prompt = str(model.calls[1][-1].content)
    assert (
        "case-1001" in rewrite_prompt and "what if the poster says it's a joke?" in rewrite_prompt
    )
    assert "<<<UNTRUSTED-" in rewrite_prompt and f"rats{DATAMARK}pouring" in rewrite_prompt
    names = [b["structured_output"]["name"] for b in model.bound if "structured_output" in b]
    assert names[1] == "rewrite_query"
    # The answer model is asked the standalone question, not the bare follow-up.
    assert JOKE in str(model.calls[2][-1].content)


def test_and_under_another_policy_is_rewritten_and_kept_to_that_policy(make_warden: Any) -> None:
    model = ScriptedChatModel().enqueue(
        answer_for("HA-2.1"),
        {"question": "Is a video of a street fight with visible injuries allowed under GV?"},
        answer_for("GV-2.1"),
    )
    warden = make_warden(model)
    warden.handle(
        req("t-rw2", "is a video of a street fight with injuries allowed?", intent=Intent.ASK)
    )
    out = warden.handle(req("t-rw2", "and under GV?", intent=Intent.ASK))
    assert isinstance(out, PolicyAnswer)
    prompt = str(model.calls[2][-1].content)
    assert "street fight" in prompt
    # Retrieval stayed within GV (the policy the follow-up names).
    assert "[GV-" in prompt and "[HA-" not in prompt


def test_an_unusable_rewrite_falls_back_to_the_carried_subject(make_warden: Any) -> None:
    model = ScriptedChatModel().enqueue(REC, "not json", answer_for("HA-2.1"))
    warden = make_warden(model)
    warden.handle(req("t-rw3", intent=Intent.RECOMMEND, case_id="case-1001"))
    out = warden.handle(req("t-rw3", "what if the poster says it's a joke?", intent=Intent.ASK))
    assert isinstance(out, PolicyAnswer) and out.usage.model_calls == 2
    assert model.remaining == 0
