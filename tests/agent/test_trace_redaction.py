"""Tracing: LangSmith through its own variables, run metadata, content under review redacted.

The real langsmith client sends to a stand-in LangSmith API on loopback; the test reads what
would have left the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.interface import Intent, Recommendation, WardenRequest
from agent.prompts import PROMPT_VERSION
from agent.tracing import build_tracer, flush, redact
from agent.untrusted import mark_untrusted
from tests.fakes.chat import ScriptedChatModel
from tests.fakes.langsmith_server import LangSmithStandIn
from tools.models import Case, ContentItem
from warden.settings import Settings

SECRET_WORDS = "Quorvish neighbours are vermin"


def _clear_langsmith_env_cache() -> None:
    from langsmith import utils

    utils.get_env_var.cache_clear()
    utils.get_tracer_project.cache_clear()


@pytest.fixture
def langsmith(monkeypatch: pytest.MonkeyPatch) -> Iterator[LangSmithStandIn]:
    with LangSmithStandIn() as server:
        monkeypatch.setenv("LANGSMITH_TRACING", "true")
        monkeypatch.setenv("LANGSMITH_ENDPOINT", server.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2_pt_test_key_not_real")
        monkeypatch.setenv("LANGSMITH_PROJECT", "warden-test")
        _clear_langsmith_env_cache()
        yield server
    monkeypatch.undo()
    _clear_langsmith_env_cache()


def test_redact_replaces_untrusted_blocks_and_the_case_subject() -> None:
    block = mark_untrusted(SECRET_WORDS, label="content text")
    run = {
        "messages": [[{"kwargs": {"content": f"# Policy\n[HA-2.1] ...\n{block}\nReturn JSON"}}]],
        "subject": {"case_id": "case-9", "text": SECRET_WORDS, "policy_id": "HA"},
        "question": "is this allowed?",
    }
    out = redact(run)
    assert "Quorvish" not in str(out)
    content = out["messages"][0][0]["kwargs"]["content"]
    assert "[HA-2.1]" in content and "Return JSON" in content
    assert "content under review redacted" in content and "<<<END-UNTRUSTED-" in content
    assert out["subject"]["policy_id"] == "HA" and out["subject"]["case_id"] == "case-9"
    assert out["question"] == "is this allowed?"
    # A policy question's subject is the specialist's own words: kept.
    assert redact({"subject": {"question": "q", "text": "q"}})["subject"]["text"] == "q"


def test_no_tracer_unless_langsmith_variables_turn_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2"):
        monkeypatch.delenv(name, raising=False)
    _clear_langsmith_env_cache()
    try:
        assert build_tracer(Settings()) is None
    finally:
        _clear_langsmith_env_cache()


@pytest.mark.parametrize("trace_content", [False, True], ids=["redacted", "allowed"])
def test_traces_carry_metadata_and_no_content_under_review(
    langsmith: LangSmithStandIn,
    make_warden: Any,
    sample_store: Any,
    trace_content: bool,
) -> None:
    from tools.cases import put_case

    case = Case(
        id="case-trace-1",
        opened_at=datetime(2026, 11, 21, tzinfo=UTC),
        items=[ContentItem(id="trace-pin-1", author_id="acct-1002", text=SECRET_WORDS)],
        signals={"hate_speech": 0.95},
    )
    with sample_store.session() as s:
        put_case(s, case)
    model = ScriptedChatModel().enqueue(
        {
            "policy_id": "HA",
            "section_ids": ["HA-2.1"],
            "verdict": "violating",
            "action": "remove",
            "confidence": 0.9,
            "rationale": "A dehumanising comparison of a group [HA-2.1].",
            "escalate": False,
        }
    )
    warden = make_warden(model)
    warden.tracer = build_tracer(Settings(WARDEN_TRACE_CONTENT=trace_content))
    assert warden.tracer is not None
    out = warden.handle(
        WardenRequest(thread_id="C:tr", user_id="U1", intent=Intent.RECOMMEND, case_id=case.id)
    )
    assert isinstance(out, Recommendation) and out.mode == "llm"
    flush(warden.tracer)
    sent = langsmith.sent
    assert sent, f"nothing reached the LangSmith stand-in ({langsmith.paths})"
    # The run metadata: intent, prompt version, model, case id.
    for expected in ("prompt_version", PROMPT_VERSION, "case-trace-1", "scripted", "recommend"):
        assert expected.encode() in sent
    assert b"lsv2_pt_test_key_not_real" not in sent
    assert b"[HA-2.1]" in sent  # policy text and citations stay
    leaked = b"Quorvish" in sent
    assert leaked is trace_content
    if not trace_content:
        assert b"content under review redacted" in sent
