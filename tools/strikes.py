"""Strikes: preview what an action list does to each account, apply, expire, overturn on appeal.

Weights, windows, thresholds and expiry come from the policy catalogue; nothing here guesses.
Strikes count per policy: an account's standing under a policy is the summed weight of its
strikes under that policy issued inside the window, not expired and not overturned.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType, RestrictionType
from tools.audit import EventSpec, append_many
from tools.cases import ensure_account
from tools.fanout_tables import conflict_insert
from tools.models import PlannedAction, Strike, StrikeEffect
from tools.restrictions import Restriction, lift, restrict, restrictions_of
from tools.store import Store, strike_from_row, utc, utcnow
from tools.tables import AccountRow, ContentRow, StrikeRow
from warden.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from knowledge.catalogue import (
        Catalogue,
        PolicyEntry,
        RestrictionSpec,
        SectionEntry,
        StrikePolicy,
    )


def active_weight(
    session: Session,
    account_id: str,
    policy_id: str,
    *,
    window_days: int,
    now: datetime,
    counts_from: Sequence[str] = (),
) -> int:
    """Summed weight of the account's strikes that count under `policy_id` at `now`
    (strikes under the policies in `counts_from` count too: the catalogue option)."""
    total = session.scalar(
        select(func.coalesce(func.sum(StrikeRow.weight), 0)).where(
            StrikeRow.account_id == account_id,
            StrikeRow.policy_id.in_([policy_id, *counts_from]),
            StrikeRow.overturned.is_(False),
            StrikeRow.issued_at > now - timedelta(days=window_days),
            StrikeRow.issued_at <= now,
            StrikeRow.expires_at > now,
        )
    )
    return int(total or 0)


def struck_account(
    action: PlannedAction, authors: dict[str, str], catalogue: Catalogue
) -> tuple[str, int] | None:
    """(account, weight) of the strike applying `action` adds, per the catalogue; None: none.

    A strike action strikes its account; a content action (a removal under HA, say) strikes the
    item's author with the weight the section gives that action.
    """
    weight = catalogue.section(action.section_id).strike_weight(action.action)
    if weight <= 0:
        return None
    if action.target_type == "account":
        if action.action != ActionType.STRIKE:
            return None
        return action.target_id, weight
    author = authors.get(action.target_id)
    return (author, weight) if author is not None else None


def strike_key(proposal_id: str, account_id: str) -> str:
    """One strike per (proposal or decision, account), whatever number of its items it acts on."""
    return f"{proposal_id}:account:{account_id}:strike"


def authors_of(session: Session, actions: Sequence[PlannedAction]) -> dict[str, str]:
    """content id -> author id for the content targets of `actions`."""
    ids = list({a.target_id for a in actions if a.target_type == "content"})
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            (str(c), str(a))
            for c, a in session.execute(
                select(ContentRow.id, ContentRow.author_id).where(ContentRow.id.in_(chunk))
            )
        )
    return found


def _strike_weights(
    catalogue: Catalogue, actions: list[PlannedAction], authors: dict[str, str]
) -> dict[tuple[str, str], int]:
    """(account, policy) -> weight the actions would add: one strike per account and section
    (the strike of a proposal is keyed per account), with the heaviest weight among them."""
    added: dict[tuple[str, str, str], int] = {}
    for action in actions:
        struck = struck_account(action, authors, catalogue)
        if struck is None:
            continue
        account, weight = struck
        section = catalogue.section(action.section_id)
        key = (account, section.policy_id, section.id)
        added[key] = max(added.get(key, 0), weight)
    out: dict[tuple[str, str], int] = defaultdict(int)
    for (account, policy, _section), weight in added.items():
        out[(account, policy)] = max(out[(account, policy)], weight)
    return out


def preview(
    store: Store,
    catalogue: Catalogue,
    actions: list[PlannedAction],
    now: datetime | None = None,
    *,
    session: Session | None = None,
) -> list[StrikeEffect]:
    """What the action list would do to each struck account, before anything happens."""
    now = utc(now or utcnow())
    effects: list[StrikeEffect] = []
    with store.use(session) as s:
        authors = authors_of(s, actions)
        weights = _strike_weights(catalogue, actions, authors)
        for (account_id, policy_id), added in sorted(weights.items()):
            rules = catalogue.strike_policy(policy_id)
            before = active_weight(
                s,
                account_id,
                policy_id,
                window_days=rules.window_days,
                now=now,
                counts_from=rules.counts_from,
            )
            crossed = rules.crossed(before, before + added)
            effects.append(
                StrikeEffect(
                    account_id=account_id,
                    active_before=before,
                    added=added,
                    active_after=before + added,
                    window_days=rules.window_days,
                    threshold_crossed=crossed.restriction if crossed else None,
                    restriction_days=crossed.days if crossed else None,
                )
            )
        effects = _on_violation_effects(s, catalogue, actions, authors, effects, now)
    return effects


def _on_violation_effects(
    session: Session,
    catalogue: Catalogue,
    actions: list[PlannedAction],
    authors: dict[str, str],
    effects: list[StrikeEffect],
    now: datetime,
) -> list[StrikeEffect]:
    """A severe section restricts the account on one violation: the preview says so too."""
    if not any(catalogue.section(a.section_id).on_violation for a in actions):
        return effects
    by_account = {e.account_id: e for e in effects}
    for action in actions:
        spec = catalogue.section(action.section_id).on_violation
        account = (
            authors.get(action.target_id) if action.target_type == "content" else (action.target_id)
        )
        if spec is None or account is None:
            continue
        effect = by_account.get(account)
        if effect is None:
            section = catalogue.section(action.section_id)
            rules = catalogue.strike_policy(section.policy_id)
            before = active_weight(
                session,
                account,
                section.policy_id,
                window_days=rules.window_days,
                now=now,
                counts_from=rules.counts_from,
            )
            effect = StrikeEffect(
                account_id=account,
                active_before=before,
                added=0,
                active_after=before,
                window_days=rules.window_days,
            )
        current = effect.threshold_crossed
        if current is None or spec.restriction.rank > current.rank:
            effect = effect.model_copy(
                update={"threshold_crossed": spec.restriction, "restriction_days": spec.days}
            )
        by_account[account] = effect
    return sorted(by_account.values(), key=lambda e: e.account_id)


class StrikeOutcome(BaseModel):
    """What `apply_strike` did; `created` is False when the action key was already applied."""

    strike: Strike | None
    created: bool
    effect: StrikeEffect
    suspended: bool = False


def apply_strike(
    store: Store,
    catalogue: Catalogue,
    action: PlannedAction,
    *,
    action_key: str,
    actor: str = "warden",
    source: str = "fanout",
    proposal_hash: str | None = None,
    now: datetime | None = None,
    session: Session | None = None,
    defer_audit: list[EventSpec] | None = None,
    weight: int | None = None,
) -> StrikeOutcome:
    """Record the strike an applied STRIKE action gives; idempotent by `action_key`.

    Crossing a `suspend` threshold suspends the account in the store (audited); the outcome
    says so, so the fanout can also tell the platform. A batching caller passes `defer_audit`
    to collect the audit events and append them with its own, last: on Postgres the audit lock
    is then taken after every row lock of the batch, never before one. `weight` overrides the
    section's strike weight (a removal's weight, for the strike a removal gives its author).
    """
    if action.action != ActionType.STRIKE or action.target_type != "account":
        raise InputError(f"{action.key}: only a strike on an account adds a strike")
    now = utc(now or utcnow())
    section = catalogue.section(action.section_id)
    policy = catalogue.policy(section.policy_id)
    rules = policy.strikes
    account_id = action.target_id
    if weight is None:
        weight = section.strike_weight(ActionType.STRIKE)
    with store.use(session) as s:
        ensure_account(s, account_id)
        existing = s.scalars(select(StrikeRow).where(StrikeRow.source_action_key == action_key))
        row = existing.one_or_none()
        before = active_weight(
            s,
            account_id,
            policy.id,
            window_days=rules.window_days,
            now=now,
            counts_from=rules.counts_from,
        )
        if row is not None or weight == 0:
            return StrikeOutcome(
                strike=strike_from_row(row) if row is not None else None,
                created=False,
                effect=StrikeEffect(
                    account_id=account_id,
                    active_before=before,
                    added=0,
                    active_after=before,
                    window_days=rules.window_days,
                ),
            )
        row = StrikeRow(
            id=f"stk_{uuid.uuid4().hex[:16]}",
            account_id=account_id,
            policy_id=policy.id,
            section_id=section.id,
            weight=weight,
            issued_at=now,
            expires_at=now + timedelta(days=rules.expiry_days),
            source_action_key=action_key,
            overturned=False,
        )
        try:
            # A savepoint: a concurrent worker applying the same key must not abort our batch.
            with s.begin_nested():
                s.add(row)
        except IntegrityError:
            row = s.scalars(
                select(StrikeRow).where(StrikeRow.source_action_key == action_key)
            ).one()
            return StrikeOutcome(
                strike=strike_from_row(row),
                created=False,
                effect=StrikeEffect(
                    account_id=account_id,
                    active_before=before,
                    added=0,
                    active_after=before,
                    window_days=rules.window_days,
                ),
            )
        after = before + row.weight
        crossed = rules.crossed(before, after)
        suspended = False
        account = s.get(AccountRow, account_id)
        if (
            crossed is not None
            and crossed.restriction == RestrictionType.SUSPEND
            and account is not None
            and account.status != "suspended"
        ):
            account.status = "suspended"
            suspended = True
        effect, events = _new_strike_record(
            strike_id=row.id,
            action_key=action_key,
            weight=row.weight,
            account_id=account_id,
            section=section,
            policy=policy,
            before=before,
            crossed=crossed,
            suspended=suspended,
            actor=actor,
            source=source,
            proposal_hash=proposal_hash,
            now=now,
        )
        if crossed is not None:
            events += _threshold_restriction(
                s,
                catalogue,
                account_id,
                crossed,
                section.id,
                action_key,
                after,
                rules,
                actor,
                source,
                now,
            )
        if defer_audit is not None:
            defer_audit.extend(events)
        else:
            append_many(s, events)
        return StrikeOutcome(
            strike=strike_from_row(row), created=True, effect=effect, suspended=suspended
        )


def _new_strike_record(
    *,
    strike_id: str,
    action_key: str,
    weight: int,
    account_id: str,
    section: SectionEntry,
    policy: PolicyEntry,
    before: int,
    crossed: RestrictionSpec | None,
    suspended: bool,
    actor: str,
    source: str,
    proposal_hash: str | None,
    now: datetime,
) -> tuple[StrikeEffect, list[EventSpec]]:
    """The effect and audit events of one new strike (and the suspension it caused, if any)."""
    after = before + weight
    window_days = policy.strikes.window_days
    common = {
        "actor": actor,
        "subject": f"account:{account_id}",
        "source": source,
        "policy_id": policy.id,
        "section_id": section.id,
        "policy_version": policy.version,
        "proposal_hash": proposal_hash,
        "at": now,
    }
    events = [
        EventSpec(
            verb="strike.applied",
            outcome="applied",
            details={
                "strike_id": strike_id,
                "action_key": action_key,
                "weight": weight,
                "active_before": before,
                "active_after": after,
                "threshold_crossed": crossed.restriction.value if crossed else None,
                "restriction_days": crossed.days if crossed else None,
            },
            **common,
        )
    ]
    if suspended:
        events.append(
            EventSpec(
                verb="account.suspended",
                outcome="suspended",
                details={"reason": f"{after} strikes in {window_days} days"},
                **common,
            )
        )
    effect = StrikeEffect(
        account_id=account_id,
        active_before=before,
        added=weight,
        active_after=after,
        window_days=window_days,
        threshold_crossed=crossed.restriction if crossed else None,
        restriction_days=crossed.days if crossed else None,
    )
    return effect, events


def _threshold_restriction(
    session: Session,
    catalogue: Catalogue,
    account_id: str,
    crossed: RestrictionSpec,
    section_id: str,
    strike_key: str,
    after: int,
    rules: StrikePolicy,
    actor: str,
    source: str,
    now: datetime,
) -> list[EventSpec]:
    """The restriction a newly crossed threshold puts in place (caused by this strike)."""
    _restriction, events = restrict(
        session,
        catalogue,
        account_id=account_id,
        spec=crossed,
        section_id=section_id,
        cause_key=strike_key,
        reason=f"{after} active strike(s) within {rules.window_days} days reached the threshold "
        f"for {crossed.describe()}.",
        actor=actor,
        source=source,
        now=now,
    )
    return events


def _suspend_standing(
    session: Session, catalogue: Catalogue, account_id: str, now: datetime
) -> bool:
    """Whether any policy's strikes still put the account at its suspend threshold."""
    policies = session.scalars(
        select(StrikeRow.policy_id).where(StrikeRow.account_id == account_id).distinct()
    ).all()
    for policy_id in policies:
        rules = catalogue.strike_policy(policy_id)
        weight = active_weight(
            session,
            account_id,
            policy_id,
            window_days=rules.window_days,
            now=now,
            counts_from=rules.counts_from,
        )
        standing = rules.restriction_for(weight)
        if standing is not None and standing.restriction == RestrictionType.SUSPEND:
            return True
    return False


def standing(
    store: Store, catalogue: Catalogue, account_id: str, *, now: datetime | None = None
) -> list[str]:
    """One line per policy the account has strikes under: active weight and next threshold."""
    now = utc(now or utcnow())
    lines = []
    with store.session() as s:
        policies = s.scalars(
            select(StrikeRow.policy_id).where(StrikeRow.account_id == account_id).distinct()
        ).all()
        for policy_id in sorted(policies):
            rules = catalogue.strike_policy(policy_id)
            weight = active_weight(
                s,
                account_id,
                policy_id,
                window_days=rules.window_days,
                now=now,
                counts_from=rules.counts_from,
            )
            upcoming = rules.next_threshold(weight)
            nxt = (
                f"next: {upcoming[0]} -> {upcoming[1].describe()}"
                if upcoming
                else "no further threshold"
            )
            lines.append(f"{policy_id}: {weight} active in {rules.window_days} days ({nxt})")
    return lines


def strikes_of(store: Store, account_id: str) -> list[Strike]:
    """Every strike of an account, oldest first (expired and overturned included)."""
    return store.get_account(account_id).strikes


def overturn(
    store: Store,
    catalogue: Catalogue,
    *,
    strike_id: str | None = None,
    action_key: str | None = None,
    actor: str,
    reason: str,
    now: datetime | None = None,
    session: Session | None = None,
    source: str = "appeal",
) -> Strike:
    """Overturn a strike on appeal or review (by id or by the action key that issued it); audited.

    The restriction the strike caused is lifted; an account suspended before restrictions were
    recorded is reinstated when it no longer reaches the suspend threshold.
    """
    if (strike_id is None) == (action_key is None):
        raise InputError("Give exactly one of a strike id or an action key to overturn.")
    if not reason.strip():
        raise InputError("An overturn needs a reason (it is recorded in the audit log).")
    now = utc(now or utcnow())
    with store.use(session) as s:
        query = select(StrikeRow).with_for_update()
        if strike_id is not None:
            query = query.where(StrikeRow.id == strike_id)
        else:
            query = query.where(StrikeRow.source_action_key == action_key)
        row = s.scalars(query).one_or_none()
        if row is None:
            raise NotFoundError(
                f"No strike with {'id' if strike_id else 'action key'} "
                f"{strike_id or action_key!r}; see `warden strikes show ACCOUNT`."
            )
        if row.overturned:
            raise InputError(f"Strike {row.id} was already overturned; nothing changed.")
        row.overturned = True
        row.overturned_at = now
        row.overturned_by = actor
        row.overturn_reason = reason
        s.flush()
        policy = catalogue.policy(row.policy_id)
        remaining = active_weight(
            s,
            row.account_id,
            row.policy_id,
            window_days=policy.strikes.window_days,
            now=now,
            counts_from=policy.strikes.counts_from,
        )
        events = [
            EventSpec(
                actor=actor,
                verb="strike.overturned",
                subject=f"account:{row.account_id}",
                source=source,
                outcome="overturned",
                policy_id=row.policy_id,
                section_id=row.section_id,
                policy_version=policy.version,
                details={
                    "strike_id": row.id,
                    "action_key": row.source_action_key,
                    "reason": reason,
                    "active_after": remaining,
                },
                at=now,
            )
        ]
        account = s.get(AccountRow, row.account_id)
        status_before = account.status if account is not None else None
        if row.source_action_key:
            events += lift(
                s,
                cause_keys=[row.source_action_key],
                actor=actor,
                reason=reason,
                now=now,
                source=source,
            )
        if (
            account is not None
            and status_before != "active"
            and account.status == status_before
            and not restrictions_of(s, row.account_id)
            and not _suspend_standing(s, catalogue, row.account_id, now)
        ):
            account.status = "active"  # suspended before restrictions were recorded
        if account is not None and status_before != "active" and account.status == "active":
            events.append(
                EventSpec(
                    actor=actor,
                    verb="account.reinstated",
                    subject=f"account:{row.account_id}",
                    source=source,
                    outcome="reinstated",
                    policy_id=row.policy_id,
                    policy_version=policy.version,
                    details={"strike_id": row.id, "active_after": remaining},
                    at=now,
                )
            )
        append_many(s, events)
        return strike_from_row(row)


def apply_strikes(
    store: Store,
    catalogue: Catalogue,
    items: Sequence[tuple[PlannedAction, str]],
    *,
    actor: str = "warden",
    source: str = "fanout",
    proposal_hash: str | None = None,
    now: datetime | None = None,
    session: Session | None = None,
    strike_weights: Sequence[int | None] | None = None,
) -> list[tuple[StrikeOutcome, list[EventSpec]]]:
    """`apply_strike` for a batch of (action, action key), with a few set-based statements.

    `strike_weights`, parallel to `items`, overrides an item's strike weight (None: the section's).

    Outcomes and audit events are the ones calling `apply_strike` once per item, in order,
    would give (standing carries over from one item to the next); the events are returned per
    item, never appended, so the caller appends them with its own, last. Idempotent by key: a
    key already struck (before, by a concurrent worker, or earlier in `items`) adds nothing.
    """
    now = utc(now or utcnow())
    resolved = []
    weight_of: dict[str, int] = {}
    for n, (action, key) in enumerate(items):
        if action.action != ActionType.STRIKE or action.target_type != "account":
            raise InputError(f"{action.key}: only a strike on an account adds a strike")
        section = catalogue.section(action.section_id)
        resolved.append((action, key, section, catalogue.policy(section.policy_id)))
        given = strike_weights[n] if strike_weights is not None else None
        default = section.strike_weight(ActionType.STRIKE)
        weight_of.setdefault(key, default if given is None else given)
    if not resolved:
        return []
    with store.use(session) as s:
        account_ids = list(dict.fromkeys(action.target_id for action, *_ in resolved))
        # Read after autoflush: an account the caller suspended earlier in this transaction
        # shows as suspended, as `apply_strike`'s per-row read would see it.
        statuses: dict[str, str] = {
            account_id: status
            for account_id, status in s.execute(
                select(AccountRow.id, AccountRow.status).where(AccountRow.id.in_(account_ids))
            )
        }
        for account_id in account_ids:
            if account_id not in statuses:
                statuses[account_id] = ensure_account(s, account_id).status
        keys = [key for _a, key, _s, _p in resolved]
        struck = {
            row.source_action_key: row
            for row in s.scalars(select(StrikeRow).where(StrikeRow.source_action_key.in_(keys)))
        }
        weights = _active_weights(s, catalogue, resolved, now)
        new_rows: dict[str, dict[str, object]] = {}
        for action, key, section, policy in resolved:
            if key in struck or key in new_rows or weight_of[key] == 0:
                continue
            new_rows[key] = {
                "id": f"stk_{uuid.uuid4().hex[:16]}",
                "account_id": action.target_id,
                "policy_id": policy.id,
                "section_id": section.id,
                "weight": weight_of[key],
                "issued_at": now,
                "expires_at": now + timedelta(days=policy.strikes.expiry_days),
                "source_action_key": key,
                "overturned": False,
            }
        created: set[str] = set()
        if new_rows:
            # ON CONFLICT DO NOTHING instead of a savepoint per row: a concurrent worker that
            # struck the same key first keeps its strike and ours is simply not created.
            stmt = (
                conflict_insert(s.get_bind().dialect.name, StrikeRow.__table__)  # type: ignore[arg-type]
                .on_conflict_do_nothing(index_elements=["source_action_key"])
                .returning(StrikeRow.source_action_key)
            )
            created = {str(k) for k in s.scalars(stmt, list(new_rows.values()))}
            lost = [k for k in new_rows if k not in created]
            if lost:
                struck.update(
                    (row.source_action_key, row)
                    for row in s.scalars(
                        select(StrikeRow).where(StrikeRow.source_action_key.in_(lost))
                    )
                )
        out: list[tuple[StrikeOutcome, list[EventSpec]]] = []
        made: dict[str, Strike] = {}
        for action, key, section, policy in resolved:
            rules = policy.strikes
            account_id = action.target_id
            before = weights.get((account_id, policy.id), 0)
            if key not in created:
                row = struck.get(key)
                out.append(
                    (
                        StrikeOutcome(
                            strike=strike_from_row(row) if row is not None else made.get(key),
                            created=False,
                            effect=StrikeEffect(
                                account_id=account_id,
                                active_before=before,
                                added=0,
                                active_after=before,
                                window_days=rules.window_days,
                            ),
                        ),
                        [],
                    )
                )
                continue
            created.discard(key)  # a repeated key later in `items` is a replay
            strike = made[key] = Strike.model_validate(new_rows[key])
            after = before + strike.weight
            weights[(account_id, policy.id)] = after
            crossed = rules.crossed(before, after)
            suspended = False
            if (
                crossed is not None
                and crossed.restriction == RestrictionType.SUSPEND
                and statuses.get(account_id) != "suspended"
            ):
                # Rare (a threshold crossed): the ORM row, so the caller's session sees it.
                account = s.get(AccountRow, account_id)
                assert account is not None
                account.status = statuses[account_id] = "suspended"
                suspended = True
            effect, events = _new_strike_record(
                strike_id=strike.id,
                action_key=key,
                weight=strike.weight,
                account_id=account_id,
                section=section,
                policy=policy,
                before=before,
                crossed=crossed,
                suspended=suspended,
                actor=actor,
                source=source,
                proposal_hash=proposal_hash,
                now=now,
            )
            if crossed is not None:
                events += _threshold_restriction(
                    s,
                    catalogue,
                    account_id,
                    crossed,
                    section.id,
                    key,
                    after,
                    rules,
                    actor,
                    source,
                    now,
                )
                account_row = s.get(AccountRow, account_id)
                if account_row is not None:
                    statuses[account_id] = account_row.status
            out.append(
                (
                    StrikeOutcome(strike=strike, created=True, effect=effect, suspended=suspended),
                    events,
                )
            )
        return out


def _active_weights(
    session: Session,
    catalogue: Catalogue,
    resolved: Sequence[tuple[PlannedAction, str, SectionEntry, PolicyEntry]],
    now: datetime,
) -> dict[tuple[str, str], int]:
    """`active_weight` of every (account, policy) in a batch: one grouped query per policy."""
    accounts: dict[str, set[str]] = defaultdict(set)
    for action, _key, _section, policy in resolved:
        accounts[policy.id].add(action.target_id)
    weights: dict[tuple[str, str], int] = {}
    for policy_id, account_ids in accounts.items():
        rules = catalogue.strike_policy(policy_id)
        window = rules.window_days
        rows = session.execute(
            select(StrikeRow.account_id, func.coalesce(func.sum(StrikeRow.weight), 0))
            .where(
                StrikeRow.account_id.in_(account_ids),
                StrikeRow.policy_id.in_([policy_id, *rules.counts_from]),
                StrikeRow.overturned.is_(False),
                StrikeRow.issued_at > now - timedelta(days=window),
                StrikeRow.issued_at <= now,
                StrikeRow.expires_at > now,
            )
            .group_by(StrikeRow.account_id)
        )
        weights.update(((account_id, policy_id), int(total)) for account_id, total in rows)
    return weights


class StrikeView(BaseModel):
    id: str
    policy_id: str
    section_id: str
    weight: int
    issued_at: datetime
    expires_at: datetime
    source_action_key: str | None


class AccountReport(BaseModel):
    """`warden strikes show ACCOUNT --json`: active strikes with expiry, restrictions with end."""

    account_id: str
    status: str
    active_strikes: list[StrikeView]
    restrictions: list[Restriction]
    active_restrictions: list[Restriction]
    standing: list[str]


def account_report(
    store: Store, catalogue: Catalogue, account_id: str, *, now: datetime | None = None
) -> AccountReport:
    now = utc(now or utcnow())
    account = store.get_account(account_id, now=now)
    with store.session() as s:
        restrictions = restrictions_of(s, account_id)
    active = [
        StrikeView(**st.model_dump(exclude={"account_id", "overturned"}))
        for st in account.strikes
        if not st.overturned and st.expires_at > now and st.issued_at <= now
    ]
    return AccountReport(
        account_id=account_id,
        status=account.status.value,
        active_strikes=active,
        restrictions=restrictions,
        active_restrictions=[r for r in restrictions if r.active(now)],
        standing=standing(store, catalogue, account_id, now=now),
    )
