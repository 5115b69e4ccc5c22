"""Case import (JSONL), detector clusters, accounts and the bundled sample data set."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType
from tools.models import Case, ContentItem, Frozen
from tools.store import Store, utc, utc_or_none, utcnow
from tools.tables import (
    AccountRow,
    CaseItemRow,
    CaseRow,
    ClusterItemRow,
    ClusterRow,
    ContentRow,
    StrikeRow,
)
from warden.errors import InputError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
ImportMode = Literal["all-or-nothing", "keep-valid"]


class LineError(BaseModel):
    line: int
    case_id: str | None = None
    error: str


class ImportReport(BaseModel):
    source: str
    mode: ImportMode
    imported: int = 0
    unchanged: int = 0
    errors: list[LineError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe_errors(self, limit: int = 20) -> str:
        lines = [f"  line {e.line}: {e.error}" for e in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"  ... and {len(self.errors) - limit} more")
        return "\n".join(lines)


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(line)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_cases(lines: Iterable[str]) -> tuple[list[tuple[int, Case]], list[LineError]]:
    """Validate every line; return the good cases with their line numbers and the bad lines."""
    good: list[tuple[int, Case]] = []
    bad: list[LineError] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad.append(LineError(line=number, error=f"not valid JSON ({exc.msg})"))
            continue
        except RecursionError:
            bad.append(LineError(line=number, error="JSON nested too deeply to be a case"))
            continue
        case_id = data.get("id") if isinstance(data, dict) else None
        case_id = case_id if isinstance(case_id, str) else None
        try:
            case = Case.model_validate(data)
        except ValidationError as exc:
            bad.append(LineError(line=number, case_id=case_id, error=_short(exc)))
            continue
        except RecursionError:
            bad.append(LineError(line=number, case_id=case_id, error="nested too deeply"))
            continue
        item_ids = [item.id for item in case.items]
        twice = sorted({i for i in item_ids if item_ids.count(i) > 1})
        if twice:
            bad.append(
                LineError(
                    line=number,
                    case_id=case.id,
                    error=f"item id {twice[0]!r} appears twice in the case; each item needs its "
                    "own id",
                )
            )
            continue
        if case.id in seen:
            bad.append(
                LineError(
                    line=number,
                    case_id=case.id,
                    error=f"case {case.id!r} already appears on line {seen[case.id]}",
                )
            )
            continue
        seen[case.id] = number
        good.append((number, case))
    return good, bad


def ensure_account(session: Session, account_id: str, *, handle: str | None = None) -> AccountRow:
    row = session.get(AccountRow, account_id)
    if row is None:
        row = AccountRow(id=account_id, handle=handle or account_id, status="active")
        session.add(row)
        session.flush()
    return row


def put_content(session: Session, item: ContentItem) -> None:
    """Store an item, or check it matches what is stored (content is immutable evidence)."""
    existing = session.get(ContentRow, item.id)
    if existing is None:
        ensure_account(session, item.author_id)
        session.add(
            ContentRow(
                id=item.id,
                kind=item.kind,
                author_id=item.author_id,
                text=item.text,
                media_url=item.media_url,
                media_description=item.media_description,
                created_at=utc_or_none(item.created_at),
            )
        )
        return
    if (existing.author_id, existing.text, existing.media_description) != (
        item.author_id,
        item.text,
        item.media_description,
    ):
        raise InputError(
            f"content {item.id!r} is already stored with a different author or text; "
            "stored evidence is never overwritten — give the new item a new id"
        )


def _case_payload(case: Case) -> dict[str, object]:
    data = case.model_dump(mode="json")
    data.pop("status", None)
    return data


def put_case(session: Session, case: Case) -> bool:
    """Store a case; return False when an identical case is already stored."""
    payload = _case_payload(case)
    existing = session.get(CaseRow, case.id)
    if existing is not None:
        stored = dict(existing.data)
        stored.pop("status", None)
        if stored == payload:
            return False
        raise InputError(
            f"case {case.id!r} is already stored with different content; "
            "cases are evidence and are not overwritten — import it under a new id"
        )
    for item in case.items:
        put_content(session, item)
    session.add(
        CaseRow(
            id=case.id,
            opened_at=utc(case.opened_at),
            status=case.status.value,
            source=case.source,
            vendor_team=case.vendor_team,
            data=payload,
            imported_at=utcnow(),
        )
    )
    session.flush()
    session.add_all(
        CaseItemRow(case_id=case.id, content_id=item.id, position=n)
        for n, item in enumerate(case.items)
    )
    session.flush()
    return True


def import_cases(
    store: Store,
    lines: Iterable[str],
    *,
    mode: ImportMode = "all-or-nothing",
    source: str = "<input>",
) -> ImportReport:
    """Import JSONL cases.

    all-or-nothing (the default) stores nothing unless every line is good and raises
    `InputError` naming the bad lines; keep-valid stores the good lines and reports the bad ones.
    """
    good, bad = parse_cases(lines)
    report = ImportReport(source=source, mode=mode, errors=list(bad))
    if bad and mode == "all-or-nothing":
        raise InputError(
            f"{source}: {len(bad)} bad line(s), nothing imported "
            f"(use --keep-valid to import the good ones):\n{report.describe_errors()}"
        )
    try:
        with store.session() as session:
            for number, case in good:
                try:
                    # A savepoint per case: a conflict drops that case only (keep-valid).
                    with session.begin_nested():
                        stored = put_case(session, case)
                except (InputError, SQLAlchemyError) as exc:
                    # The savepoint is rolled back: this line stored nothing, earlier ones stay.
                    error = str(exc) if isinstance(exc, InputError) else _stored_conflict(exc)
                    report.errors.append(LineError(line=number, case_id=case.id, error=error))
                    if mode == "all-or-nothing":
                        raise InputError(error) from None
                    continue
                if stored:
                    report.imported += 1
                else:
                    report.unchanged += 1
    except InputError:
        report.errors.sort(key=lambda e: e.line)
        raise InputError(f"{source}: nothing imported:\n{report.describe_errors()}") from None
    report.errors.sort(key=lambda e: e.line)
    return report


def _stored_conflict(exc: SQLAlchemyError) -> str:
    """A database refusal of one line, said without the driver's statement and parameters."""
    kind = "conflicts with what is stored" if isinstance(exc, IntegrityError) else "was refused"
    driver = type(getattr(exc, "orig", None) or exc).__name__
    return f"the case {kind} (database: {driver}); nothing of this line was stored"


def import_file(store: Store, path: Path, *, mode: ImportMode = "all-or-nothing") -> ImportReport:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}") from exc
    return import_cases(store, text.splitlines(), mode=mode, source=str(path))


class ClusterSpec(Frozen):
    """One detector cluster as written in clusters.jsonl."""

    id: str
    policy_id: str
    section_id: str
    detector: str
    description: str
    created_at: datetime
    content_ids: list[str] = Field(min_length=1)


def put_cluster(session: Session, spec: ClusterSpec) -> bool:
    """Store a cluster over already stored content; return False if it was already there."""
    if session.get(ClusterRow, spec.id) is not None:
        return False
    known: set[str] = set()
    for start in range(0, len(spec.content_ids), 500):
        chunk = spec.content_ids[start : start + 500]
        known.update(session.scalars(select(ContentRow.id).where(ContentRow.id.in_(chunk))))
    missing = [c for c in spec.content_ids if c not in known]
    if missing:
        raise InputError(
            f"cluster {spec.id!r} names {len(missing)} unknown content id(s), e.g. {missing[0]!r}; "
            "import the content first"
        )
    session.add(
        ClusterRow(
            id=spec.id,
            policy_id=spec.policy_id,
            section_id=spec.section_id,
            detector=spec.detector,
            description=spec.description,
            created_at=utc(spec.created_at),
        )
    )
    session.flush()
    session.add_all(
        ClusterItemRow(cluster_id=spec.id, content_id=c) for c in dict.fromkeys(spec.content_ids)
    )
    session.flush()
    return True


class SampleStrike(Frozen):
    policy_id: str
    section_id: str
    days_ago: int = Field(ge=0)
    weight: int | None = None


class SampleAccount(Frozen):
    id: str
    handle: str
    created_days_ago: int = 365
    strikes: list[SampleStrike] = Field(default_factory=list)


class SampleReport(BaseModel):
    accounts: int = 0
    strikes: int = 0
    content: int = 0
    cases: int = 0
    clusters: int = 0


def _jsonl(path: Path) -> list[dict[str, object]]:
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip():
            try:
                rows.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
    return rows


def load_sample(
    store: Store,
    catalogue: Catalogue,
    *,
    now: datetime | None = None,
    directory: Path = SAMPLE_DIR,
) -> SampleReport:
    """Load the bundled sample data set; loading it again adds nothing (idempotent).

    Strike dates are relative to `now`, so "one strike away from suspension" stays true
    whenever the demo runs.
    """
    now = utc(now or utcnow())
    report = SampleReport()
    accounts = [SampleAccount.model_validate(r) for r in _jsonl(directory / "accounts.jsonl")]
    extra = [ContentItem.model_validate(r) for r in _jsonl(directory / "cluster_content.jsonl")]
    clusters = [ClusterSpec.model_validate(r) for r in _jsonl(directory / "clusters.jsonl")]
    with store.session() as session:
        for account in accounts:
            if session.get(AccountRow, account.id) is None:
                session.add(
                    AccountRow(
                        id=account.id,
                        handle=account.handle,
                        created_at=now - timedelta(days=account.created_days_ago),
                        status="active",
                    )
                )
                report.accounts += 1
        session.flush()
        for account in accounts:
            for n, strike in enumerate(account.strikes, start=1):
                strike_id = f"sample-{account.id}-{n}"
                if session.get(StrikeRow, strike_id) is not None:
                    continue
                rules = catalogue.strike_policy(strike.policy_id)
                section = catalogue.section(strike.section_id)
                issued = now - timedelta(days=strike.days_ago)
                session.add(
                    StrikeRow(
                        id=strike_id,
                        account_id=account.id,
                        policy_id=strike.policy_id,
                        section_id=strike.section_id,
                        weight=strike.weight or section.strike_weight(ActionType.STRIKE) or 1,
                        issued_at=issued,
                        expires_at=issued + timedelta(days=rules.expiry_days),
                        source_action_key=f"sample:{strike_id}",
                        overturned=False,
                    )
                )
                report.strikes += 1
        for item in extra:
            if session.get(ContentRow, item.id) is None:
                put_content(session, item)
                report.content += 1
        session.flush()
    cases = import_file(store, directory / "cases.jsonl")
    report.cases = cases.imported
    with store.session() as session:
        for cluster in clusters:
            catalogue.section(cluster.section_id)  # a typo in the sample fails loudly
            if put_cluster(session, cluster):
                report.clusters += 1
    return report
