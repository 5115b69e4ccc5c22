"""Routing free text to one of the four jobs: by the model when there is one, else by rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.interface import Intent

# A section id ("HA-2.1") is not a case id even though it looks like one.
_SECTION_ID = re.compile(r"^[A-Z]{2,4}-\d+(?:\.\d+)*$")
_ID_TOKEN = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*[-_]?\d[A-Za-z0-9_-]*\b")
_CLUSTER_HINT = re.compile(r"^(?:cl|clu|cluster|det)[-_]", re.IGNORECASE)
_PROPOSE = re.compile(
    r"\b(propos\w*|bulk|mass[- ]?(?:remov|action)\w*|auto[- ]?action\w*|take down all)\b", re.I
)
_ESCALATE = re.compile(r"\b(escalat\w*|send (?:it|this) to policy|page on-?call)\b", re.I)
_RECOMMEND = re.compile(
    r"\b(recommend\w*|what should we do|verdict|which action|how should (?:we|i) action)\b", re.I
)


@dataclass(frozen=True)
class Route:
    intent: Intent
    case_id: str | None = None
    cluster_id: str | None = None


def extract_ids(text: str) -> tuple[str | None, str | None]:
    """Return (case_id, cluster_id) written in the text, if any."""
    case_id = cluster_id = None
    for match in _ID_TOKEN.finditer(text):
        token = match.group(0).strip("-_")
        if _SECTION_ID.match(token):
            continue
        preceding = text[max(0, match.start() - 9) : match.start()].lower()
        if _CLUSTER_HINT.match(token) or "cluster" in preceding:
            cluster_id = cluster_id or token
        else:
            case_id = case_id or token
    return case_id, cluster_id


def route_by_rules(text: str) -> Route:
    """Deterministic routing for no-LLM mode (and when the model's routing is unusable)."""
    case_id, cluster_id = extract_ids(text)
    if _PROPOSE.search(text) and (cluster_id or case_id):
        return Route(Intent.PROPOSE, case_id, cluster_id)
    if _ESCALATE.search(text):
        return Route(Intent.ESCALATE, case_id, cluster_id)
    if case_id and (_RECOMMEND.search(text) or not text.rstrip().endswith("?")):
        return Route(Intent.RECOMMEND, case_id, cluster_id)
    return Route(Intent.ASK, case_id, cluster_id)


def accept_model_route(
    text: str, intent: str, case_id: str | None, cluster_id: str | None
) -> Route:
    """Keep the model's choice only where the message supports it; ids must appear verbatim."""
    fallback = route_by_rules(text)
    try:
        chosen = Intent(intent.strip().lower())
    except ValueError:
        return fallback
    lowered = text.lower()

    def verbatim(value: str | None) -> str | None:
        return value if value and value.lower() in lowered else None

    case = verbatim(case_id) or fallback.case_id
    cluster = verbatim(cluster_id) or fallback.cluster_id
    if chosen in (Intent.RECOMMEND, Intent.PROPOSE) and not (case or cluster):
        return fallback
    return Route(chosen, case, cluster)
