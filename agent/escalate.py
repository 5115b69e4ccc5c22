"""Job 3, escalations: opened through `tools/` with what is known and the sections involved."""

from __future__ import annotations

import re

from agent.citations import retrieve
from agent.deps import Deps
from agent.interface import EscalationOpened, Recommendation, Usage
from agent.llm import model_name
from agent.prompts import PROMPT_VERSION
from agent.recommend import recommend
from agent.state import Retrieved
from agent.untrusted import sanitize
from warden.errors import InputError

SUMMARY_CHARS = 1500


def _case_summary(rec: Recommendation, note: str, items: int, reports: int, signals: str) -> str:
    draft = (
        f"Draft ({rec.mode}, confidence {rec.confidence:.2f}): {rec.verdict}"
        + (f", {rec.action.value}" if rec.action else "")
        + (f" under {', '.join(rec.section_ids)}" if rec.section_ids else "")
        + f". {rec.rationale}"
    )
    crossing = [e.account_id for e in rec.strike_effects if e.threshold_crossed is not None]
    lines = [
        f"Case {rec.case_id}: {items} item(s), {reports} user report(s); signals: {signals}.",
        draft,
    ]
    if crossing:
        lines.append(f"Accounts that would cross a strike threshold: {', '.join(crossing)}.")
    if rec.note:
        lines.append(rec.note)
    if note:
        lines.append(f"Specialist's note: {note}")
    return "\n".join(lines)[:SUMMARY_CHARS]


def escalate(
    deps: Deps, *, case_id: str | None, text: str, user_id: str
) -> tuple[EscalationOpened, list[Retrieved], Usage]:
    """Open an escalation for a case (routed by its recommendation) or for a policy question."""
    note = sanitize(text).strip()[:500]
    if case_id is not None:
        case = deps.backend.get_case(case_id)
        rec, sections, usage = recommend(deps, case)
        policy_id = rec.policy_id
        section_ids = rec.section_ids
        if policy_id is None and sections:
            policy_id = sections[0].policy_id
        signals = ", ".join(f"{k}={v:.2f}" for k, v in sorted(case.signals.items())) or "none"
        summary = _case_summary(rec, note, len(case.items), len(case.reports), signals)
        # Priority comes from the catalogue (imminent-harm sections), never from the model.
        imminent = any(deps.catalogue.section(s).imminent_harm for s in section_ids)
        drafted = rec.mode == "llm"
    else:
        if not note:
            raise InputError("Say what to escalate: a case id, or the policy question.")
        named = [p for p in re.findall(r"\b[A-Z]{2,4}\b", note) if p in deps.catalogue.policies]
        found = retrieve(deps, note, policy=named[0] if named else None)
        sections, usage = found.sections, Usage()
        policy_id = (
            named[0] if named else next((s.policy_id for s in sections if s.policy_id), None)
        )
        section_ids = [s.section_id for s in sections[:3] if s.policy_id == policy_id]
        listed = ", ".join(f"{s.section_id} {s.title}" for s in sections[:3]) or "none"
        summary = (
            f"Policy question from <@{user_id}>: {note}\n"
            f"Closest sections (similarity {found.confidence:.2f}): {listed}."
        )[:SUMMARY_CHARS]
        imminent = False
        drafted = False
    if policy_id is None:
        raise InputError(
            "I could not tell which policy this belongs to, so I cannot route it; "
            "name the policy (e.g. 'escalate HA ...') or give a case id."
        )
    escalation = deps.backend.open_escalation(
        case_id=case_id,
        policy_id=policy_id,
        section_ids=section_ids,
        summary=summary,
        opened_by=user_id,
        imminent=imminent,
        model=model_name(deps.model) if drafted else None,
        prompt_id=f"recommend@{PROMPT_VERSION}" if drafted else None,
    )
    return EscalationOpened(escalation=escalation), sections, usage
