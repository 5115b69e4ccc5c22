"""Statements of reasons: one per applied action, with the content EU DSA Article 17(3) asks for.

The restriction with its scope and duration, the facts relied on, whether automated means were
used (for detection and for the decision, separately), the policy ground with an explanation
(section title and policy version), and the redress options open to the affected user.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType
from tools.models import PlannedAction, Proposal, StatementOfReasons
from tools.store import Store, utc, utcnow
from tools.tables import ContentRow, StatementRow
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
    """One applied action to explain, as the fanout hands it over."""

    action: PlannedAction
    action_key: str
    facts: str
    automated_detection: bool
    automated_decision: bool = False
    policy_version: str | None = None


def _duration(catalogue: Catalogue, action: PlannedAction, policy_id: str, now: datetime) -> str:
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
) -> StatementOfReasons:
    section = catalogue.section(item.action.section_id)
    policy = catalogue.policy(section.policy_id)
    version = item.policy_version or policy.version
    restriction, scope = _RESTRICTION[item.action.action]
    allowed = ", ".join(a.value for a in section.allowed_actions)
    target = "account" if item.action.target_type == "account" else "content"
    return StatementOfReasons(
        id=f"sor_{uuid.uuid4().hex[:16]}",
        action_key=item.action_key,
        account_id=account_id,
        content_id=content_id,
        issued_at=now,
        restriction=restriction,
        scope=scope,
        duration=_duration(catalogue, item.action, policy.id, now),
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
    )


def _row(sor: StatementOfReasons, data: dict[str, object]) -> dict[str, object]:
    return {
        "id": sor.id,
        "action_key": sor.action_key,
        "account_id": sor.account_id,
        "content_id": sor.content_id,
        "issued_at": sor.issued_at,
        "data": data,
    }


class _Statements:
    """Builds a batch's statements: the first of each kind is built and validated in full,
    the rest copy it and change only who and what it is about (ids, key, account, content).

    Items of one kind share every other field by construction (same section, action, target
    type, version, facts and automation flags, one `now`), so the copies are the very
    statements `build_statement` would return, at a fraction of its cost per row.
    """

    def __init__(self, catalogue: Catalogue, now: datetime) -> None:
        self.catalogue, self.now = catalogue, now
        self.kinds: dict[tuple[object, ...], tuple[StatementOfReasons, dict[str, object]]] = {}

    def build(
        self, item: SorInput, *, account_id: str, content_id: str | None
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
        )
        first = self.kinds.get(kind)
        if first is None:
            sor = build_statement(
                self.catalogue, item, account_id=account_id, content_id=content_id, now=self.now
            )
            data = sor.model_dump(mode="json")
            self.kinds[kind] = (sor, data)
            return sor, data
        template, template_data = first
        who = {
            "id": f"sor_{uuid.uuid4().hex[:16]}",
            "action_key": item.action_key,
            "account_id": account_id,
            "content_id": content_id,
        }
        return template.model_copy(update=who), {**template_data, **who}


def issue_statements(
    store: Store,
    catalogue: Catalogue,
    items: list[SorInput],
    *,
    now: datetime | None = None,
    session: Session | None = None,
) -> list[StatementOfReasons]:
    """Issue one statement per action (idempotent by action key: a retry returns the first)."""
    now = utc(now or utcnow())
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
        content_ids = [i.action.target_id for i in items if i.action.target_type == "content"]
        authors: dict[str, str] = {
            content_id: author_id
            for content_id, author_id in s.execute(
                select(ContentRow.id, ContentRow.author_id).where(ContentRow.id.in_(content_ids))
            )
        }
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
            sor, data = statements.build(item, account_id=author, content_id=content_id)
            rows.append(_row(sor, data))
            existing[item.action_key] = sor
            out.append(sor)
        if rows:
            # One Core executemany: per-row ORM objects and their flush were most of a fanout
            # batch's time (measured with pyinstrument, see bench/fanout_bench.py).
            s.execute(insert(StatementRow.__table__), rows)  # type: ignore[arg-type]
    return out


def facts_for(proposal: Proposal, *, detector: str | None = None) -> str:
    """The facts relied on, as the affected user should read them (no internal ids beyond ours)."""
    parts = []
    if proposal.cluster_id:
        parts.append(
            f"An automated detector{f' ({detector})' if detector else ''} grouped this item "
            "with others showing the same violating material; a reviewer confirmed the group."
        )
    else:
        parts.append("A reviewer examined the reported content and the account's history.")
    parts.extend(proposal.evidence)
    parts.append(f"The action was approved by {len(proposal.approvals)} reviewer(s).")
    return " ".join(p.strip() for p in parts if p.strip())


def inputs_for_proposal(
    proposal: Proposal,
    keyed_actions: list[tuple[PlannedAction, str]],
    *,
    detector: str | None = None,
) -> list[SorInput]:
    """Statement inputs for a proposal's applied actions: detection automated iff from a cluster;
    the decision is never automated (a person approved it)."""
    facts = facts_for(proposal, detector=detector)
    if not keyed_actions:
        return []
    action, key = keyed_actions[0]
    # Validate once; the rest differ only in action and key, both already typed values.
    first = SorInput(
        action=action,
        action_key=key,
        facts=facts,
        automated_detection=proposal.cluster_id is not None,
        automated_decision=False,
        policy_version=proposal.policy_version,
    )
    return [first] + [
        first.model_copy(update={"action": action, "action_key": key})
        for action, key in keyed_actions[1:]
    ]


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
