"""Strict JSON schemas built per call: the enums are what THIS prompt allows.

The model is asked (OpenAI structured outputs, `strict: true`) for a reply whose verdict, action
and intent are enums, whose cited section ids are an enum of the sections given in this prompt,
and whose actions are the catalogue's allowed actions for those sections. The reply is still
validated afterwards against the catalogue and the retrieval (`agent.recommend.check_draft`):
a server that ignores the schema gets no further than one that honours it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INTENTS = ("ask", "recommend", "escalate", "propose")
VERDICTS = ("violating", "not_violating", "borderline")


def _ids(values: Iterable[str]) -> dict[str, Any]:
    enum = sorted(dict.fromkeys(values))
    return {"type": "string", "enum": enum} if enum else {"type": "string"}


def _nullable(spec: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [spec, {"type": "null"}]}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def route_schema() -> dict[str, Any]:
    return _object(
        {
            "intent": {"type": "string", "enum": list(INTENTS)},
            "case_id": _nullable({"type": "string"}),
            "cluster_id": _nullable({"type": "string"}),
        }
    )


def answer_schema(section_ids: Iterable[str]) -> dict[str, Any]:
    return _object(
        {
            "answer": {"type": "string"},
            "cited_section_ids": {"type": "array", "items": _ids(section_ids)},
            "grounded": {"type": "boolean"},
        }
    )


def recommendation_schema(section_ids: Iterable[str], actions: Iterable[str]) -> dict[str, Any]:
    ids = list(section_ids)
    allowed = sorted(dict.fromkeys(actions))
    action: dict[str, Any] = {"type": "string", "enum": allowed} if allowed else {"type": "null"}
    return _object(
        {
            "policy_id": _nullable({"type": "string"}),
            "section_ids": {"type": "array", "items": _ids(ids)},
            "verdict": {"type": "string", "enum": list(VERDICTS)},
            "action": _nullable(action) if allowed else action,
            "confidence": {"type": "number"},
            "rationale": {"type": "string"},
            "escalate": {"type": "boolean"},
        }
    )


def judge_schema(section_ids: Iterable[str]) -> dict[str, Any]:
    """The faithfulness judge's reply: each claim of the answer, supported or not, and by what."""
    claim = _object(
        {
            "claim": {"type": "string"},
            "supported": {"type": "boolean"},
            "section_ids": {"type": "array", "items": _ids(section_ids)},
        }
    )
    return _object({"claims": {"type": "array", "items": claim}})


def rewrite_schema() -> dict[str, Any]:
    return _object({"question": {"type": "string"}})
