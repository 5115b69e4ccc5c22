"""No-LLM mode over the real retriever, catalogue and sample store."""

from __future__ import annotations

from agent.interface import Intent, PolicyAnswer, Recommendation, Refusal, WardenRequest


def ask(text: str, **kw: object) -> WardenRequest:
    return WardenRequest(thread_id="C1:1", user_id="U1", text=text, **kw)  # type: ignore[arg-type]


def test_policy_question_gets_cited_excerpts(make_warden) -> None:
    warden = make_warden()
    out = warden.handle(
        ask("is a meme comparing an ethnic group to rats hateful?", intent=Intent.ASK)
    )
    assert isinstance(out, PolicyAnswer)
    print(out.text)
    assert out.mode == "excerpts"
    assert out.text.startswith("Policy excerpts")
    assert 1 <= len(out.citations) <= 3
    assert out.citations[0].section_id == "HA-2.1"
    assert out.usage.model_calls == 0


def test_recommendation_from_rules(make_warden) -> None:
    warden = make_warden()
    out = warden.handle(ask("", intent=Intent.RECOMMEND, case_id="case-1001"))
    assert isinstance(out, Recommendation)
    print(out)
    assert out.mode == "rules"


def test_unknown_case_is_refused(make_warden) -> None:
    out = make_warden().handle(ask("recommend case-9999"))
    assert isinstance(out, Refusal)
    assert "case-9999" in out.reason
