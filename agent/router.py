"""Routing free text to one of the four jobs.

Rules first: a message the rules can read without doubt (a plain question naming no case or
cluster, or "recommend|escalate|propose <id>") is routed without a model call, which saves one
call per request. Everything else goes to the model when there is one, else to the rules.
"""

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
_QUESTION_START = re.compile(
    r"^(?:what|how|is|are|does|do|did|can|could|should|would|will|may|must|when|where|which|"
    r"who|why)\b",
    re.I,
)
_MIN_DESCRIPTION_WORDS = 4
# An explicit command: the verb first (after an optional "please"), then the id.
_COMMAND = re.compile(r"^(?:please\s+)?(recommend|escalate|propose)\b", re.I)


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


def _id_tokens(text: str) -> list[str]:
    """Every id-like token in the text, section ids left out."""
    tokens = (match.group(0).strip("-_") for match in _ID_TOKEN.finditer(text))
    return [token for token in tokens if not _SECTION_ID.match(token)]


def route_if_clear(text: str) -> Route | None:
    """The route when the rules can decide without doubt; None when only a model can.

    Clear means one of:
    - a question (ends with "?" or opens with a question word) or a description of content
      (four words or more), naming no case or cluster and asking for no recommendation,
      escalation or proposal: ask;
    - "recommend <case>", "escalate <case>", "propose <case or cluster>": the verb first, exactly
      one id in the message, and no other job's words.
    Anything else ("what should we do with case-1?", "bulk remove cl-1", "escalate this") is left
    to the model, so the rules never guess where a model would read the message differently.
    """
    stripped = text.strip()
    if not stripped:
        return None
    ids = _id_tokens(stripped)
    jobs = {
        intent
        for intent, pattern in (
            (Intent.PROPOSE, _PROPOSE),
            (Intent.ESCALATE, _ESCALATE),
            (Intent.RECOMMEND, _RECOMMEND),
        )
        if pattern.search(stripped)
    }
    if not ids:
        # Without an id only ask or escalate is possible, and nothing here asks to escalate. A
        # specialist often describes the content instead of asking ("pin selling followers, 1k
        # for 5 bucks"): that is a policy question too. Short replies ("yes please") are not.
        is_question = stripped.endswith("?") or bool(_QUESTION_START.match(stripped))
        described = len(stripped.split()) >= _MIN_DESCRIPTION_WORDS
        return Route(Intent.ASK) if (is_question or described) and not jobs else None
    command = _COMMAND.match(stripped)
    if command is None or len(set(ids)) != 1:
        return None
    intent = Intent(command.group(1).lower())
    if jobs != {intent}:
        return None
    case_id, cluster_id = extract_ids(stripped)
    if intent is Intent.PROPOSE:
        return Route(intent, case_id, cluster_id)
    # Recommendations and escalations are about a case; a cluster id there needs a reader.
    return Route(intent, case_id) if case_id and not cluster_id else None


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
