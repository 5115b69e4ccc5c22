"""The enforcement store: one engine, migrations, transactions and typed reads.

Writes that need domain rules live in their own modules (`tools.cases`, `tools.strikes`,
`tools.proposals`, `tools.escalations`, `tools.audit`, `tools.reasons`); they all take a `Store`
and, where a caller batches work into one transaction, an optional open `Session`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from tools.db import make_engine, make_sessionmaker
from tools.models import (
    Account,
    Approval,
    Case,
    ContentItem,
    Escalation,
    Frozen,
    PlannedAction,
    Proposal,
    Strike,
)
from tools.tables import (
    AccountRow,
    ApprovalRow,
    CaseRow,
    ClusterItemRow,
    ClusterRow,
    ContentRow,
    EscalationRow,
    ProposalRow,
    StrikeRow,
)
from warden.errors import NotFoundError

if TYPE_CHECKING:
    from warden.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# alembic keeps the running migration in module globals: one migration per process at a time.
_MIGRATION_LOCK = threading.Lock()


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """Make a timestamp tz-aware UTC (SQLite hands back naive datetimes that were stored as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class Cluster(Frozen):
    """A detector's cluster of content items (e.g. pins matching one hate symbol)."""

    id: str
    policy_id: str
    section_id: str
    detector: str
    description: str
    created_at: datetime
    content_ids: list[str] = Field(default_factory=list)


def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def _begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """Make every SQLite transaction `BEGIN IMMEDIATE` (once per engine, however many Stores).

    pysqlite starts transactions lazily and as readers; two writers that both read first then
    fail with "database is locked" instead of waiting. Taking the write lock at BEGIN serialises
    writers behind the busy timeout, which is what the audit chain and the decisions rely on.
    """
    if not event.contains(engine, "connect", _no_driver_transactions):
        event.listen(engine, "connect", _no_driver_transactions)
        event.listen(engine, "begin", _begin_immediate)


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def run_migrations(engine: Engine) -> None:
    """Bring the schema to the newest revision (safe to run again, and from several processes)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with _MIGRATION_LOCK, engine.connect() as conn:
        cfg = _alembic_config(conn)
        heads = set(ScriptDirectory.from_config(cfg).get_heads())
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.rollback()
        if current == heads:
            return
        command.upgrade(cfg, "heads")
        conn.commit()


class Store:
    """The repository over one engine; build it once per process and pass it in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if engine.dialect.name == "sqlite":
            _sqlite_immediate_transactions(engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the store at `url`, running migrations first unless told not to."""
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        store = cls(make_engine(url))
        if migrate:
            run_migrations(store.engine)
        return store

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def use(self, session: Session | None) -> Iterator[Session]:
        """Join the caller's transaction when given one, else run in a new one."""
        if session is not None:
            yield session
            return
        with self.session() as own:
            yield own

    # ---- reads -------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> Case:
        with self.session() as s:
            row = s.get(CaseRow, case_id)
            if row is None:
                raise NotFoundError(
                    f"No case {case_id!r} in the store; check the id or import it with "
                    "`warden cases import FILE.jsonl`."
                )
            return case_from_row(row)

    def list_cases(self, *, status: str | None = None, limit: int = 100) -> list[Case]:
        with self.session() as s:
            query = select(CaseRow).order_by(CaseRow.opened_at.desc(), CaseRow.id).limit(limit)
            if status:
                query = query.where(CaseRow.status == status)
            return [case_from_row(r) for r in s.scalars(query)]

    def get_account(self, account_id: str, *, now: datetime | None = None) -> Account:
        """The account with every strike; its status as of `now` (restrictions end)."""
        with self.session() as s:
            row = s.get(AccountRow, account_id)
            if row is None:
                raise NotFoundError(f"No account {account_id!r} in the store.")
            strikes = s.scalars(
                select(StrikeRow)
                .where(StrikeRow.account_id == account_id)
                .order_by(StrikeRow.issued_at, StrikeRow.id)
            ).all()
            from tools.restrictions import account_status

            return Account(
                id=row.id,
                handle=row.handle,
                created_at=utc_or_none(row.created_at),
                # Derived from its restrictions, which end by themselves.
                status=account_status(s, row.id, row.status, now or utcnow()),
                strikes=[strike_from_row(r) for r in strikes],
            )

    def get_content(self, content_ids: list[str]) -> dict[str, ContentItem]:
        """Return the known items among `content_ids` (unknown ids are simply absent)."""
        found: dict[str, ContentItem] = {}
        with self.session() as s:
            for start in range(0, len(content_ids), 500):
                chunk = content_ids[start : start + 500]
                for row in s.scalars(select(ContentRow).where(ContentRow.id.in_(chunk))):
                    found[row.id] = content_from_row(row)
        return found

    def get_cluster(self, cluster_id: str) -> Cluster:
        with self.session() as s:
            row = s.get(ClusterRow, cluster_id)
            if row is None:
                raise NotFoundError(
                    f"No detector cluster {cluster_id!r}; list them with `warden cases list`."
                )
            ids = s.scalars(
                select(ClusterItemRow.content_id)
                .where(ClusterItemRow.cluster_id == cluster_id)
                .order_by(ClusterItemRow.content_id)
            ).all()
            return Cluster(
                id=row.id,
                policy_id=row.policy_id,
                section_id=row.section_id,
                detector=row.detector,
                description=row.description,
                created_at=utc(row.created_at),
                content_ids=list(ids),
            )

    def list_clusters(self) -> list[Cluster]:
        with self.session() as s:
            ids = s.scalars(select(ClusterRow.id).order_by(ClusterRow.id)).all()
        return [self.get_cluster(i) for i in ids]

    def get_proposal(self, proposal_id: str) -> Proposal:
        with self.session() as s:
            return load_proposal(s, proposal_id)

    def get_escalation(self, escalation_id: str) -> Escalation:
        with self.session() as s:
            row = s.get(EscalationRow, escalation_id)
            if row is None:
                raise NotFoundError(f"No escalation {escalation_id!r}.")
            return escalation_from_row(row)


def build_store(settings: Settings) -> Store:
    """Open the configured store (SQLite in the data folder unless a database URL is set)."""
    if not settings.database_url:
        settings.ensure_home()
    return Store.open(settings.db_url)


# ---- row -> model ----------------------------------------------------------------------------


def case_from_row(row: CaseRow) -> Case:
    return Case.model_validate({**row.data, "status": row.status})


def content_from_row(row: ContentRow) -> ContentItem:
    return ContentItem.model_validate(
        {
            "id": row.id,
            "kind": row.kind,
            "author_id": row.author_id,
            "text": row.text,
            "media_url": row.media_url,
            "media_description": row.media_description,
            "created_at": utc_or_none(row.created_at),
        }
    )


def strike_from_row(row: StrikeRow) -> Strike:
    return Strike(
        id=row.id,
        account_id=row.account_id,
        policy_id=row.policy_id,
        section_id=row.section_id,
        weight=row.weight,
        issued_at=utc(row.issued_at),
        expires_at=utc(row.expires_at),
        source_action_key=row.source_action_key,
        overturned=row.overturned,
    )


def load_proposal(session: Session, proposal_id: str, *, for_update: bool = False) -> Proposal:
    """Read one proposal with its approvals (row-locked on Postgres when `for_update`)."""
    query = select(ProposalRow).where(ProposalRow.id == proposal_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFoundError(f"No proposal {proposal_id!r}; it may have been mistyped or purged.")
    return proposal_from_row(session, row)


def proposal_from_row(session: Session, row: ProposalRow) -> Proposal:
    approvals = session.scalars(
        select(ApprovalRow).where(ApprovalRow.proposal_id == row.id).order_by(ApprovalRow.id)
    ).all()
    return Proposal.model_validate(
        {
            "id": row.id,
            "policy_id": row.policy_id,
            "policy_version": row.policy_version,
            "section_ids": row.section_ids,
            "action": row.action,
            "actions": [PlannedAction.model_validate(a) for a in row.actions],
            "evidence": row.evidence,
            "requester_id": row.requester_id,
            "approvals": [
                Approval(
                    approver_id=a.approver_id,
                    decided_at=utc(a.decided_at),
                    action_hash=a.action_hash,
                )
                for a in approvals
            ],
            "required_approvals": row.required_approvals,
            "status": row.status,
            "created_at": utc(row.created_at),
            "expires_at": utc(row.expires_at),
            "action_hash": row.action_hash,
            "case_id": row.case_id,
            "cluster_id": row.cluster_id,
            "decided_by": row.decided_by,
            "decided_at": utc_or_none(row.decided_at),
            "reject_reason": row.reject_reason,
            "origin": row.origin or "automated",
            "reverses": row.reverses,
        }
    )


def escalation_from_row(row: EscalationRow) -> Escalation:
    return Escalation.model_validate(
        {
            "id": row.id,
            "case_id": row.case_id,
            "policy_id": row.policy_id,
            "section_ids": row.section_ids,
            "priority": row.priority,
            "pod": row.pod,
            "channel": row.channel,
            "on_call": row.on_call,
            "owner_id": row.owner_id,
            "opened_by": row.opened_by,
            "status": row.status,
            "opened_at": utc(row.opened_at),
            "sla_due_at": utc(row.sla_due_at),
            "acknowledged_at": utc_or_none(row.acknowledged_at),
            "resolved_at": utc_or_none(row.resolved_at),
            "resolution": row.resolution,
            "summary": row.summary,
            "slack_channel": row.slack_channel,
            "slack_ts": row.slack_ts,
            "reminded_at": utc_or_none(row.reminded_at),
        }
    )
