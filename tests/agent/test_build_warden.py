"""`build_warden`: every client built once from settings, checkpoints in the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.interface import Intent, PolicyAnswer, Refusal, WardenRequest
from agent.service import build_warden
from warden.settings import Settings


def test_build_warden_from_settings(
    tmp_path: Path, policy_retriever: Any, sample_store: Any
) -> None:
    settings = Settings(
        WARDEN_HOME=tmp_path / "home",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",  # never called: a cluster proposal needs no model
        OPENAI_API_KEY="sk-test",
        WARDEN_LLM_MODEL="some-model",
    )
    with build_warden(settings, retriever=policy_retriever, store=sample_store) as warden:
        assert warden.model_name == "some-model"
        assert settings.checkpoint_path.exists()
        # The shipped gates are loaded: SP is in shadow mode, so nothing is posted.
        out = warden.handle(
            WardenRequest(
                thread_id="t", user_id="u", intent=Intent.PROPOSE, cluster_id="cl-spam-0093"
            )
        )
        assert isinstance(out, Refusal) and "shadow" in out.reason


def test_no_llm_when_no_endpoint(tmp_path: Path, policy_retriever: Any, sample_store: Any) -> None:
    settings = Settings(WARDEN_HOME=tmp_path / "home", OPENAI_BASE_URL=None)
    with build_warden(settings, retriever=policy_retriever, store=sample_store) as warden:
        assert warden.model_name is None
        out = warden.handle(
            WardenRequest(thread_id="t", user_id="u", intent=Intent.ASK, text="is spam allowed?")
        )
        assert isinstance(out, PolicyAnswer) and out.mode == "excerpts"
