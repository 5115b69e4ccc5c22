"""Doctor check for the LLM: the endpoint answers a tiny structured call, and json_schema works.

Warden asks for every structured reply with `response_format: json_schema`. An endpoint that
refuses that (an HTTP 4xx) but answers a plain prompt would fail every recommendation, so the
check tells the two apart with a second, plain call.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from warden.doctor import Check, fail, ok

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from warden.settings import Settings

PROBE_TIMEOUT_S = 15.0


class Probe(BaseModel):
    """The tiny structured reply the doctor asks for."""

    ok: bool


PROBE_PROMPT = 'Health check. Reply with the JSON object {"ok": true} and nothing else.'


def _refused_request(problem: str) -> bool:
    """The endpoint refused the request itself (400/404/422), not the network or the key."""
    found = re.search(r"Error code: (\d{3})", problem)
    return found is not None and found.group(1) in {"400", "404", "415", "422"}


def llm_check(settings: Settings, model: BaseChatModel) -> Check:
    from langchain_core.messages import HumanMessage

    from agent.llm import model_name, structured_call

    name = model_name(model)
    where = f"{settings.openai_base_url} ({name})"
    reply = structured_call(model, Probe, [HumanMessage(PROBE_PROMPT)], name="doctor_probe")
    if reply.parsed is not None:
        return ok("llm", f"{where} answers; json_schema structured output supported")
    problem = reply.problem or "no reply"
    if reply.unavailable and not _refused_request(problem):
        return fail(
            "llm",
            f"{where} does not answer: {problem}",
            "check OPENAI_BASE_URL, OPENAI_API_KEY and WARDEN_LLM_MODEL, or unset "
            "OPENAI_BASE_URL for no-LLM mode",
        )
    if reply.unavailable:
        try:
            model.invoke([HumanMessage("Health check. Reply with OK.")])
        except Exception as exc:
            return fail(
                "llm",
                f"{where} refused a structured call ({problem}) and a plain one "
                f"({type(exc).__name__}: {str(exc)[:120]})",
                "check WARDEN_LLM_MODEL names a model this endpoint serves",
            )
    what = "refuses" if reply.unavailable else "ignores"
    return fail(
        "llm",
        f"{where} answers, but {what} json_schema structured output ({problem[:160]})",
        "use an endpoint that supports response_format json_schema (OpenAI, Azure, vLLM, "
        "recent Ollama or llama.cpp server), or unset OPENAI_BASE_URL for no-LLM mode",
    )


def llm_checks(settings: Settings, *, model: Any = None) -> list[Check]:
    if model is None and not settings.llm_enabled:
        return [ok("llm", "not configured: no-LLM mode (cited excerpts, rule-based drafts)")]
    if model is None:
        from agent.llm import build_chat_model

        try:
            probe_settings = settings.model_copy(
                update={
                    "llm_max_retries": 0,
                    "llm_timeout_s": min(settings.llm_timeout_s, PROBE_TIMEOUT_S),
                }
            )
            model = build_chat_model(probe_settings)
        except Exception as exc:
            return [fail("llm", str(exc), "set OPENAI_BASE_URL and OPENAI_API_KEY")]
    return [llm_check(settings, model)]
