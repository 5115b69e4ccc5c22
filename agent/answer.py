"""Job 1, policy answers: retrieve, answer, cite only what was retrieved this turn."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from agent.abstention import ENGLISH_NOTE, abstains, looks_non_english, unknown_share
from agent.citations import (
    cited_only,
    inline_refs,
    retrieve,
    section_kinds,
    strip_unretrieved_refs,
    to_citation,
)
from agent.deps import Deps
from agent.drafts import AnswerDraft
from agent.interface import PolicyAnswer, Usage
from agent.llm import structured_call
from agent.prompts import ANSWER_SYSTEM, policy_block
from agent.schemas import answer_schema
from agent.state import Retrieved
from agent.untrusted import sanitize

EXCERPT_SECTIONS = 3
ESCALATION_OFFER = "Want me to escalate this to the Policy team? Reply `escalate`."


def excerpts_answer(
    question: str, sections: list[Retrieved], *, low: bool, note: str | None = None
) -> PolicyAnswer:
    """No-LLM mode: the best sections, quoted and cited, labelled as excerpts."""
    shown = sections[:EXCERPT_SECTIONS]
    if low:
        head = (
            "I found no policy section that clearly covers this. "
            + ("The closest policy excerpts are below (quotes, not an answer). " if shown else "")
            + ESCALATION_OFFER
        )
    else:
        head = "Policy excerpts (quoted from the policy; not an interpretation):"
    if note:
        head = f"{note}\n{head}"
    citations = [to_citation(s, question) for s in shown]
    lines = [head]
    for c in citations:
        lines.append(
            f"\n[{c.section_id}] {c.title} ({c.policy_id} v{c.policy_version})\n> {c.excerpt}"
        )
    return PolicyAnswer(
        text="\n".join(lines),
        citations=citations,
        mode="excerpts",
        low_confidence=low,
        offer_escalation=low,
    )


def answer(
    deps: Deps, question: str, *, query: str | None = None, policy: str | None = None
) -> tuple[PolicyAnswer, list[Retrieved], Usage]:
    """Answer a policy question; excerpts when there is no model or its answer cannot be used.

    `query` is what retrieval searches with when it differs from the question (a follow-up
    rewritten with the conversation's subject); `policy` restricts retrieval to one policy.
    """
    question = sanitize(question).strip()
    search = sanitize(query).strip() if query else question
    found = retrieve(deps, search, policy=policy)
    sections = found.sections
    low = abstains(search, found, unknown=unknown_share(deps, search))
    language = ENGLISH_NOTE if looks_non_english(question) else None
    if deps.model is None:
        return excerpts_answer(question, sections, low=low, note=language), sections, Usage()
    if not sections:
        return excerpts_answer(question, sections, low=True, note=language), sections, Usage()
    messages = [
        SystemMessage(ANSWER_SYSTEM),
        HumanMessage(
            f"{policy_block(sections, kinds=section_kinds(deps.catalogue, sections))}"
            f"\n\n# Question\n{question}"
        ),
    ]
    reply = structured_call(
        deps.model,
        AnswerDraft,
        messages,
        name="policy_answer",
        json_schema=answer_schema(s.section_id for s in sections),
    )
    if reply.parsed is None:
        note = (
            "The model is unavailable, so here are the policy excerpts instead."
            if reply.unavailable
            else "The model's answer could not be used, so here are the policy excerpts instead."
        )
        return excerpts_answer(question, sections, low=low, note=note), sections, reply.usage
    draft = reply.parsed
    retrieved_ids = {s.section_id for s in sections}
    text, removed_inline = strip_unretrieved_refs(draft.answer.strip(), retrieved_ids)
    if language:
        text = f"{language}\n{text}"
    citations, removed = cited_only(
        [*draft.cited_section_ids, *inline_refs(text)], sections, question
    )
    removed_all = sorted(set(removed) | set(removed_inline))
    if not draft.grounded:
        text = f"{text}\n\n{ESCALATION_OFFER}"
        return (
            PolicyAnswer(
                text=text,
                citations=citations,
                mode="llm",
                low_confidence=True,
                offer_escalation=True,
                removed_citations=removed_all,
            ),
            sections,
            reply.usage,
        )
    if not citations:
        # A policy statement without a retrieved citation is not allowed: show the sources.
        fallback = excerpts_answer(
            question,
            sections,
            low=low,
            note="The model's answer cited no retrieved policy section, so here are the excerpts.",
        )
        fallback = fallback.model_copy(update={"removed_citations": removed_all})
        return fallback, sections, reply.usage
    if removed_all:
        dropped = ", ".join(removed_all)
        text += f"\n\n(Removed citations to sections that were not retrieved: {dropped}.)"
    if low:
        text += (
            f"\n\nThe policy sections found are a weak match for this question. {ESCALATION_OFFER}"
        )
    return (
        PolicyAnswer(
            text=text,
            citations=citations,
            mode="llm",
            low_confidence=low,
            offer_escalation=low,
            removed_citations=removed_all,
        ),
        sections,
        reply.usage,
    )
