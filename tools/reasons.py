"""Statements of reasons: one per applied action, with the content EU DSA Article 17(3) asks for.

The restriction with its scope and duration, the facts relied on, whether automated means were
used (for detection and for the decision, separately), the policy ground with an explanation
(section title and policy version), and the redress options open to the affected user.

Facts are written for the person affected: what was restricted and why, in the policy's words,
and truthfully how it was detected and reviewed. Internal signal names, scores, thresholds and
detector names never appear in them. Each statement also records what the EU Transparency
Database needs to file it (source, content date and type, territorial scope, end date of a
temporary restriction); `tools.dsa` maps it field for field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import BaseModel, field_validator
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType, RestrictionType
from tools.models import (
    Case,
    CaseSource,
    ContentType,
    DecisionAutomation,
    PlannedAction,
    Proposal,
    StatementOfReasons,
    decision_automation,
)
from tools.store import Store, utc, utcnow
from tools.tables import CaseRow, ContentRow, StatementRow
from warden.errors import NotFoundError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

REDRESS = [
    "Internal appeal: ask us to review this decision within six months through the appeal "
    "link in this notice; a person who was not involved in the decision reviews it "
    "(DSA Art. 20).",
    "Out-of-court dispute settlement: refer the decision to a certified out-of-court dispute "
    "settlement body of your choice (DSA Art. 21).",
    "Judicial redress: you may challenge the decision before the competent court under the "
    "law of your country.",
]

# Sources where a machine, not a person, first identified the content.
AUTOMATED_SOURCES = frozenset({CaseSource.CLASSIFIER, CaseSource.DETECTOR})
# How the content came to our attention, as the affected user reads it.
_HOW_FOUND = {
    CaseSource.USER_REPORT: "Someone reported your content to us.",
    CaseSource.TRUSTED_FLAGGER: "A trusted flagger (an organisation recognised under the EU "
    "Digital Services Act) notified us of your content.",
    CaseSource.OTHER_NOTIFICATION: "We received a notification about your content.",
    CaseSource.CLASSIFIER: "Our automated systems flagged your content for review.",
    CaseSource.DETECTOR: "Our automated systems flagged your content for review.",
    CaseSource.PROACTIVE: "Our team found your content while reviewing the platform.",
}
_ACCOUNT_RESTRICTION = {
    ActionType.SUSPEND: (
        "Your account was suspended.",
        "Your whole account: you cannot post, comment or message while it is suspended.",
    ),
    ActionType.LIMIT_DISTRIBUTION: (
        "The distribution of your account's content was limited: it is not recommended or "
        "shown in feeds and search.",
        "Everything your account posts, while the restriction lasts.",
    ),
}
_RESTRICTION = {
    ActionType.LABEL: (
        "A warning label was added to your content.",
        "This content item only; it stays visible behind the label.",
    ),
    ActionType.LIMIT_DISTRIBUTION: (
        "The distribution of your content was limited: it is no longer recommended or shown "
        "in feeds and search.",
        "This content item only; people who open it directly can still see it.",
    ),
    ActionType.REMOVE: (
        "Your content was removed.",
        "This content item only; the rest of your account is not affected by this action.",
    ),
    ActionType.STRIKE: (
        "A strike was added to your account.",
        "Your account: strikes count towards account-level restrictions.",
    ),
    ActionType.SUSPEND: (
        "Your account was suspended.",
        "Your whole account: you cannot post, comment or message while it is suspended.",
    ),
}


class SorInput(BaseModel):
    """One applied action to explain, as the fanout (or case work) hands it over.

    An account restriction (a threshold suspension, a limit) is an account-target action:
    `PlannedAction(target_type="account", action=SUSPEND | LIMIT_DISTRIBUTION)` with `ends_at`
    when it is temporary (None: until lifted).
    """

    action: PlannedAction
    action_key: str
    facts: str
    automated_detection: bool
    automated_decision: DecisionAutomation = DecisionAutomation.NOT_AUTOMATED
    policy_version: str | None = None
    case_id: str | None = None
    source: CaseSource | None = None
    ends_at: datetime | None = None

    _automation = field_validator("automated_decision", mode="before")(decision_automation)


def _duration(catalogue: Catalogue, item: SorInput, policy_id: str, now: datetime) -> str:
    action = item.action
    if action.target_type == "account" and action.action in _ACCOUNT_RESTRICTION:
        if item.ends_at is None:
            return "Until it is lifted, or reversed on appeal or review."
        return f"Until {item.ends_at:%Y-%m-%d} (unless reversed earlier on appeal or review)."
    if action.action == ActionType.STRIKE:
        rules = catalogue.strike_policy(policy_id)
        until = now + timedelta(days=rules.expiry_days)
        ladder = ", ".join(
            f"{n} strikes: {r.describe()}" for n, r in sorted(rules.thresholds.items())
        )
        return (
            f"The strike counts for {rules.expiry_days} days (until {until:%Y-%m-%d}) within a "
            f"{rules.window_days}-day window ({ladder})."
        )
    return "Until it is reversed on appeal or review."


def build_statement(
    catalogue: Catalogue,
    item: SorInput,
    *,
    account_id: str,
    content_id: str | None,
    now: datetime,
    context: dict[str, object] | None = None,
) -> StatementOfReasons:
    """One statement; `context` holds the content's date, type, language and the scope."""
    section = catalogue.section(item.action.section_id)
    policy = catalogue.policy(section.policy_id)
    version = item.policy_version or policy.version
    if item.action.target_type == "account" and item.action.action in _ACCOUNT_RESTRICTION:
        restriction, scope = _ACCOUNT_RESTRICTION[item.action.action]
    else:
        restriction, scope = _RESTRICTION[item.action.action]
    allowed = ", ".join(a.value.replace("_", " ") for a in section.allowed_actions)
    target = "account" if item.action.target_type == "account" else "content"
    return StatementOfReasons(
        id=f"sor_{uuid.uuid4().hex[:16]}",
        action_key=item.action_key,
        account_id=account_id,
        content_id=content_id,
        issued_at=now,
        restriction=restriction,
        scope=scope,
        duration=_duration(catalogue, item, policy.id, now),
        facts=item.facts,
        automated_detection=item.automated_detection,
        automated_decision=item.automated_decision,
        policy_ground=f"{policy.title} policy, section {section.id} “{section.title}”",
        policy_explanation=(
            f"Section {section.id} (“{section.title}”) of our {policy.title} policy, version "
            f"{version}, covers this {target}. For it the policy allows: {allowed}; "
            f"the action taken was {item.action.action.value.replace('_', ' ')}."
        ),
        policy_version=version,
        redress=list(REDRESS),
        section_id=section.id,
        action=item.action.action,
        target_type=item.action.target_type,
        ends_at=item.ends_at,
        source=item.source,
        case_id=item.case_id,
    ).model_copy(update=context or {})


def _row(sor: StatementOfReasons, data: dict[str, object]) -> dict[str, object]:
    return {
        "id": sor.id,
        "action_key": sor.action_key,
        "account_id": sor.account_id,
        "content_id": sor.content_id,
        "issued_at": sor.issued_at,
        "data": data,
    }


def add_statement(session: Session, sor: StatementOfReasons) -> None:
    """Store one statement (a restriction's, or a review's outcome notice) in the session."""
    session.execute(insert(StatementRow), [_row(sor, sor.model_dump(mode="json"))])


class _Statements:
    """Builds a batch's statements: the first of each kind is built and validated in full,
    the rest copy it and change only who and what it is about (ids, key, account, content and
    the content's own date, type and language).

    Items of one kind share every other field by construction (same section, action, target
    type, version, facts, automation, case and end date, one `now`), so the copies are the very
    statements `build_statement` would return, at a fraction of its cost per row.
    """

    def __init__(self, catalogue: Catalogue, now: datetime) -> None:
        self.catalogue, self.now = catalogue, now
        self.kinds: dict[tuple[object, ...], tuple[StatementOfReasons, dict[str, object]]] = {}

    def build(
        self,
        item: SorInput,
        *,
        account_id: str,
        content_id: str | None,
        context: dict[str, object],
    ) -> tuple[StatementOfReasons, dict[str, object]]:
        action = item.action
        kind = (
            action.section_id,
            action.action,
            action.target_type == "account",
            item.policy_version,
            item.facts,
            item.automated_detection,
            item.automated_decision,
            item.case_id,
            item.source,
            item.ends_at,
        )
        first = self.kinds.get(kind)
        if first is None:
            sor = build_statement(
                self.catalogue,
                item,
                account_id=account_id,
                content_id=content_id,
                now=self.now,
                context=context,
            )
            data = sor.model_dump(mode="json")
            self.kinds[kind] = (sor, data)
            return sor, data
        template, template_data = first
        who: dict[str, object] = {
            "id": f"sor_{uuid.uuid4().hex[:16]}",
            "action_key": item.action_key,
            "account_id": account_id,
            "content_id": content_id,
            **context,
        }
        sor = template.model_copy(update=who)
        return sor, {**template_data, **sor.model_dump(mode="json", include=set(who))}


def content_types(
    kind: str, text: str | None, media_url: str | None, media_description: str | None
) -> list[ContentType]:
    """What an item is when the platform did not say: listings are products, media is an image
    (pins carry images), words are text."""
    if kind in ("listing", "ad"):
        return [ContentType.PRODUCT] if kind == "listing" else [ContentType.IMAGE, ContentType.TEXT]
    found = []
    if media_url or media_description:
        found.append(ContentType.IMAGE)
    if text:
        found.append(ContentType.TEXT)
    return found or [ContentType.OTHER]


def _contexts(
    s: Session, items: Sequence[SorInput], scope: list[str]
) -> tuple[dict[str, str], dict[str, dict[str, object]], dict[str, dict[str, object]]]:
    """Authors of the content items, each item's own context, and each case's context."""
    content_ids = [i.action.target_id for i in items if i.action.target_type == "content"]
    authors: dict[str, str] = {}
    per_item: dict[str, dict[str, object]] = {}
    for row in s.execute(
        select(
            ContentRow.id,
            ContentRow.author_id,
            ContentRow.created_at,
            ContentRow.kind,
            ContentRow.text,
            ContentRow.media_url,
            ContentRow.media_description,
        ).where(ContentRow.id.in_(content_ids))
    ):
        authors[row.id] = row.author_id
        per_item[row.id] = {
            "content_date": utc(row.created_at).date() if row.created_at else None,
            "content_type": content_types(row.kind, row.text, row.media_url, row.media_description),
        }
    per_case: dict[str, dict[str, object]] = {}
    case_ids = {i.case_id for i in items if i.case_id}
    for data in s.scalars(select(CaseRow.data).where(CaseRow.id.in_(case_ids))):
        case = Case.model_validate(data)
        for content in case.items:
            if content.id in per_item and content.content_type:
                per_item[content.id]["content_type"] = list(content.content_type)
        dates = [c.created_at for c in case.items if c.created_at is not None]
        types = sorted({t for c in case.items for t in (c.content_type or [])})
        per_case[case.id] = {
            # The content was posted before it was reported: the case's opening bounds it.
            "content_date": utc(min(dates) if dates else case.opened_at).date(),
            "content_type": types,
            "territorial_scope": list(case.territorial_scope or scope),
            "language": case.language,
        }
    return authors, per_item, per_case


def _context(
    item: SorInput,
    per_item: dict[str, dict[str, object]],
    per_case: dict[str, dict[str, object]],
    scope: list[str],
    now: datetime,
) -> dict[str, object]:
    case = per_case.get(item.case_id or "", {})
    own = per_item.get(item.action.target_id, {}) if item.action.target_type == "content" else {}
    return {
        "content_date": own.get("content_date") or case.get("content_date") or now.date(),
        "content_type": own.get("content_type") or case.get("content_type") or [],
        "territorial_scope": case.get("territorial_scope") or list(scope),
        "language": case.get("language"),
    }


def issue_statements(
    store: Store,
    catalogue: Catalogue,
    items: list[SorInput],
    *,
    now: datetime | None = None,
    session: Session | None = None,
    territorial_scope: list[str] | None = None,
) -> list[StatementOfReasons]:
    """Issue one statement per action (idempotent by action key: a retry returns the first).

    `territorial_scope` is where decisions apply unless a case narrows it (default: the
    `territorial_scope` setting).
    """
    now = utc(now or utcnow())
    if territorial_scope is None:
        from warden.settings import get_settings

        territorial_scope = list(get_settings().territorial_scope)
    out: list[StatementOfReasons] = []
    with store.use(session) as s:
        keys = [i.action_key for i in items]
        # Columns, not ORM objects: a fanout batch asks for a hundred keys at a time.
        existing = {
            key: StatementOfReasons.model_validate(data)
            for key, data in s.execute(
                select(StatementRow.action_key, StatementRow.data).where(
                    StatementRow.action_key.in_(keys)
                )
            )
        }
        authors, per_item, per_case = _contexts(s, items, territorial_scope)
        rows: list[dict[str, object]] = []
        statements = _Statements(catalogue, now)
        for item in items:
            if item.action_key in existing:
                out.append(existing[item.action_key])
                continue
            if item.action.target_type == "content":
                content_id: str | None = item.action.target_id
                author = authors.get(item.action.target_id)
                if author is None:
                    raise NotFoundError(
                        f"Content {item.action.target_id!r} is not in the store; cannot address "
                        "a statement of reasons to its author."
                    )
            else:
                content_id, author = None, item.action.target_id
            sor, data = statements.build(
                item,
                account_id=author,
                content_id=content_id,
                context=_context(item, per_item, per_case, territorial_scope, now),
            )
            rows.append(_row(sor, data))
            existing[item.action_key] = sor
            out.append(sor)
        if rows:
            # One Core executemany: per-row ORM objects and their flush were most of a fanout
            # batch's time (measured with pyinstrument, see bench/fanout_bench.py).
            s.execute(insert(StatementRow.__table__), rows)  # type: ignore[arg-type]
    return out


def facts_for(
    catalogue: Catalogue,
    proposal: Proposal,
    *,
    case: Case | None = None,
    sample_size: int | None = None,
) -> str:
    """The facts relied on, as the affected user should read them: what was restricted, under
    which rule (the policy's words), how it was found and how people reviewed it.

    Never the proposal's internal evidence (signal names, scores, thresholds, detector names).
    """
    section = catalogue.section(proposal.section_ids[0])
    policy = catalogue.policy(proposal.policy_id)
    action = proposal.action.value.replace("_", " ")
    approvers = len(proposal.approvals)
    people = f"{approvers} reviewer{'s' if approvers != 1 else ''}"
    parts = [
        f"We decided that the content breaks our {policy.title} policy, the rule "
        f"“{section.title}” (section {section.id}), and applied this action: {action}."
    ]
    if proposal.cluster_id is not None:
        total = len({a.target_id for a in proposal.actions if a.target_type == "content"})
        shown = min(total, sample_size) if sample_size else total
        parts.append(
            "Our automated systems found your content together with other items that show the "
            f"same material ({total} items in all)."
        )
        if shown < total:
            parts.append(
                f"The decision was taken for the whole group: {people} approved it after "
                f"reviewing a sample of {shown} of the {total} items; your item was not "
                "necessarily one of those reviewed individually."
            )
        else:
            parts.append(f"{people.capitalize()} reviewed every item and approved the decision.")
    else:
        source = case.source if case is not None else CaseSource.PROACTIVE
        parts.append(_HOW_FOUND.get(source, _HOW_FOUND[CaseSource.PROACTIVE]))
        parts.append(f"{people.capitalize()} reviewed the content and approved the decision.")
    return " ".join(parts)


def automated_detection(proposal: Proposal, case: Case | None, catalogue: Catalogue) -> bool:
    """Whether a machine identified the content: a detector cluster, a case a classifier or
    detector sent, or classifier scores that meet a catalogue rule."""
    if proposal.cluster_id is not None:
        return True
    if case is None:
        return False
    return case.source in AUTOMATED_SOURCES or bool(catalogue.match_signals(case.signals))


def inputs_for_proposal(
    catalogue: Catalogue,
    proposal: Proposal,
    keyed_actions: list[tuple[PlannedAction, str]],
    *,
    case: Case | None = None,
    sample_size: int | None = None,
    now: datetime | None = None,
) -> list[SorInput]:
    """Statement inputs for a proposal's applied actions. Its decision is partially automated:
    an automated or bulk proposal that people approved. A suspension under a section whose
    `on_violation` suspends for some days ends then (counted from `now`)."""
    if not keyed_actions:
        return []
    facts = facts_for(catalogue, proposal, case=case, sample_size=sample_size)
    action, key = keyed_actions[0]
    # Validate once; the rest differ only in action, key and end date, all typed values.
    first = SorInput(
        action=action,
        action_key=key,
        facts=facts,
        automated_detection=automated_detection(proposal, case, catalogue),
        automated_decision=DecisionAutomation.PARTIALLY,
        policy_version=proposal.policy_version,
        case_id=case.id if case is not None else None,
        source=case.source if case is not None else None,
        ends_at=_suspension_end(catalogue, action, now),
    )
    return [first] + [
        first.model_copy(
            update={
                "action": action,
                "action_key": key,
                "ends_at": _suspension_end(catalogue, action, now),
            }
        )
        for action, key in keyed_actions[1:]
    ]


def _suspension_end(
    catalogue: Catalogue, action: PlannedAction, now: datetime | None
) -> datetime | None:
    if now is None or action.target_type != "account" or action.action != ActionType.SUSPEND:
        return None
    spec = catalogue.section(action.section_id).on_violation
    if spec is None or spec.days is None or spec.restriction != RestrictionType.SUSPEND:
        return None
    return now + timedelta(days=spec.days)


def get_statement(store: Store, action_key: str) -> StatementOfReasons:
    with store.session() as s:
        row = s.scalars(select(StatementRow).where(StatementRow.action_key == action_key)).first()
        if row is None:
            raise NotFoundError(f"No statement of reasons for action {action_key!r}.")
        return StatementOfReasons.model_validate(row.data)


def export(store: Store, out: TextIO) -> int:
    """Write every statement as JSONL in issue order; return how many."""
    count = 0
    with store.session() as s:
        for row in s.scalars(
            select(StatementRow).order_by(StatementRow.issued_at, StatementRow.id)
        ):
            out.write(StatementOfReasons.model_validate(row.data).model_dump_json() + "\n")
            count += 1
    return count


def export_to(store: Store, path: Path) -> int:
    with path.open("w", encoding="utf-8") as out:
        return export(store, out)
