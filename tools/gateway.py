"""Where approved actions land: the enforcement gateway protocol and its two adapters.

`LocalPlatform` keeps content and account state in the store's own database (demo, tests); it
can apply inside the caller's transaction, so the fanout commits "applied on the platform" and
"marked applied in the ledger" together. `HttpGateway` calls an enforcement API; there the
`Idempotency-Key` header makes every retry (after a timeout, a reset, a crash) safe.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType
from tools.fanout_tables import PlatformReceiptRow, PlatformTargetRow, conflict_insert
from tools.models import PlannedAction
from warden.errors import ConfigError, GatewayError
from warden.metrics import GATEWAY_ERRORS
from warden.settings import Settings


class GatewayReceipt(BaseModel):
    """The platform's answer for one applied action (a replay returns the first receipt)."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    receipt_id: str
    target_type: str
    target_id: str
    action: ActionType
    applied_at: datetime
    replayed: bool = False


class GatewayItem(BaseModel):
    """One action to apply, with the key that makes applying it again a no-op."""

    model_config = ConfigDict(frozen=True)

    action: PlannedAction
    idempotency_key: str


class BatchOutcome(BaseModel):
    """Per-item result of a batch: a receipt, or why the platform refused this one item."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    receipt: GatewayReceipt | None = None
    error: str | None = None


class GatewayRejected(GatewayError):
    """The platform refused the action itself (unknown target, bad request); retrying won't help."""


class GatewayUnavailable(GatewayError):
    """The platform kept failing (timeouts, 5xx, 429, resets) after every bounded retry."""


@runtime_checkable
class EnforcementGateway(Protocol):
    """Applies planned actions on the platform, at most once per idempotency key."""

    def apply(
        self, action: PlannedAction, *, idempotency_key: str, proposal_id: str
    ) -> GatewayReceipt: ...

    def apply_batch(
        self, items: Sequence[GatewayItem], *, proposal_id: str
    ) -> list[BatchOutcome]: ...


@runtime_checkable
class TransactionalGateway(EnforcementGateway, Protocol):
    """A gateway whose writes can join the caller's database transaction."""

    def writes_to(self, engine: Engine) -> bool: ...

    def apply_in(
        self, session: Session, items: Sequence[GatewayItem], *, proposal_id: str
    ) -> list[BatchOutcome]: ...


def _now() -> datetime:
    return datetime.now(UTC)


# Which per-target counter each action increments on the local platform.
_COUNTER = {
    ActionType.LABEL: "labels",
    ActionType.LIMIT_DISTRIBUTION: "limits",
    ActionType.REMOVE: "removals",
    ActionType.STRIKE: "strikes",
    ActionType.SUSPEND: "suspensions",
}
_COUNTERS = tuple(_COUNTER.values())


class LocalPlatform:
    """The built-in platform: content and account state in the store's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def writes_to(self, engine: Engine) -> bool:
        """Whether this platform's tables live in the database behind `engine`."""
        return self.engine is engine or self.engine.url == engine.url

    def apply(
        self, action: PlannedAction, *, idempotency_key: str, proposal_id: str
    ) -> GatewayReceipt:
        item = GatewayItem(action=action, idempotency_key=idempotency_key)
        [outcome] = self.apply_batch([item], proposal_id=proposal_id)
        assert outcome.receipt is not None  # the local platform never refuses an action
        return outcome.receipt

    def apply_batch(self, items: Sequence[GatewayItem], *, proposal_id: str) -> list[BatchOutcome]:
        with Session(self.engine) as session, session.begin():
            return self.apply_in(session, items, proposal_id=proposal_id)

    def apply_in(
        self, session: Session, items: Sequence[GatewayItem], *, proposal_id: str
    ) -> list[BatchOutcome]:
        """Apply inside `session`'s transaction; a key seen before returns its first receipt."""
        if not items:
            return []
        dialect = session.get_bind().dialect.name
        now = _now()
        rows = [
            {
                "idempotency_key": item.idempotency_key,
                "receipt_id": f"rcpt-{uuid.uuid4().hex}",
                "proposal_id": proposal_id,
                "target_type": item.action.target_type,
                "target_id": item.action.target_id,
                "action": item.action.action.value,
                "section_id": item.action.section_id,
                "applied_at": now,
                "deliveries": 1,
            }
            for item in items
        ]
        # ON CONFLICT DO NOTHING ... RETURNING tells, race-free, which keys are new here. The
        # statement has no inline values, so it compiles once and runs as one batched insert.
        stmt = (
            conflict_insert(dialect, PlatformReceiptRow.__table__)  # type: ignore[arg-type]
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(PlatformReceiptRow.idempotency_key)
        )
        new_keys = set(session.scalars(stmt, rows))
        replayed = [item.idempotency_key for item in items if item.idempotency_key not in new_keys]
        receipts = {
            row["idempotency_key"]: _receipt_of(row, replayed=False)
            for row in rows
            if row["idempotency_key"] in new_keys
        }
        if replayed:
            session.execute(
                update(PlatformReceiptRow)
                .where(PlatformReceiptRow.idempotency_key.in_(replayed))
                .values(deliveries=PlatformReceiptRow.deliveries + 1)
            )
            first = select(PlatformReceiptRow).where(
                PlatformReceiptRow.idempotency_key.in_(replayed)
            )
            for stored in session.scalars(first):
                receipts[stored.idempotency_key] = _receipt(stored, replayed=True)
        self._change_state(session, dialect, [i for i in items if i.idempotency_key in new_keys])
        return [
            # Built from values this method just wrote: no per-item validation needed.
            BatchOutcome.model_construct(
                idempotency_key=item.idempotency_key,
                receipt=receipts[item.idempotency_key],
                error=None,
            )
            for item in items
        ]

    def _change_state(self, session: Session, dialect: str, items: Sequence[GatewayItem]) -> None:
        # One upsert row per target: Postgres refuses to touch the same row twice in a statement.
        increments: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(_COUNTERS, 0)
        )
        for item in items:
            target = (item.action.target_type, item.action.target_id)
            increments[target][_COUNTER[item.action.action]] += 1
        if not increments:
            return
        now = _now()
        table = PlatformTargetRow.__table__
        stmt = conflict_insert(dialect, table)  # type: ignore[arg-type]
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["target_type", "target_id"],
                set_={
                    "updated_at": stmt.excluded.updated_at,
                    **{c: table.c[c] + stmt.excluded[c] for c in _COUNTERS},
                },
            ),
            [
                {"target_type": t, "target_id": i, "updated_at": now, **counts}
                for (t, i), counts in increments.items()
            ],
        )

    def receipts(self, proposal_id: str | None = None) -> list[PlatformReceiptRow]:
        """Every application the platform recorded (tests compare this with the ledger)."""
        query = select(PlatformReceiptRow).order_by(PlatformReceiptRow.idempotency_key)
        if proposal_id is not None:
            query = query.where(PlatformReceiptRow.proposal_id == proposal_id)
        with Session(self.engine) as session:
            return list(session.scalars(query))

    def target(self, target_type: str, target_id: str) -> PlatformTargetRow | None:
        """The platform's current state of one content item or account."""
        with Session(self.engine) as session:
            return session.get(PlatformTargetRow, (target_type, target_id))


def _receipt_of(row: dict[str, Any], *, replayed: bool) -> GatewayReceipt:
    # The row was built by `apply_in` from already-validated items: skip re-validation.
    return GatewayReceipt.model_construct(
        idempotency_key=row["idempotency_key"],
        receipt_id=row["receipt_id"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        action=ActionType(row["action"]),
        applied_at=row["applied_at"],
        replayed=replayed,
    )


def _receipt(row: PlatformReceiptRow, *, replayed: bool) -> GatewayReceipt:
    return GatewayReceipt(
        idempotency_key=row.idempotency_key,
        receipt_id=row.receipt_id,
        target_type=row.target_type,
        target_id=row.target_id,
        action=ActionType(row.action),
        applied_at=row.applied_at,
        replayed=replayed,
    )


class _Transient(Exception):
    """A failure worth retrying; carries the server's Retry-After when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff


class HttpGateway:
    """Calls an enforcement API: `POST /v1/actions` and `/v1/actions/batch`, bearer auth.

    Timeouts, 5xx, 429 (honouring Retry-After) and connection resets are retried with bounded
    exponential backoff; every retry carries the same `Idempotency-Key`, so a request that did
    land before the failure is answered with its first receipt instead of being applied again.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        max_attempts: int = 5,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        max_retry_after_s: float = 30.0,
        batch_endpoint: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        # Without a batch endpoint, a batch is sent one action per request (each with its
        # own Idempotency-Key header), for APIs that only take single actions.
        self.batch_endpoint = batch_endpoint
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.sleep = sleep
        self.attempts = 0  # requests sent, retries included (tests and logs read it)

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout_s: float = 10.0) -> HttpGateway:
        """Build the client once, from `WARDEN_ENFORCEMENT_API_URL` and its bearer key."""
        if not settings.enforcement_api_url:
            raise ConfigError("WARDEN_ENFORCEMENT_API_URL is not set; the local platform is used.")
        key = settings.enforcement_api_key
        if key is None or not key.get_secret_value().strip():
            raise ConfigError(
                "WARDEN_ENFORCEMENT_API_KEY is not set; the enforcement API needs a bearer key."
            )
        client = httpx.Client(
            base_url=settings.enforcement_api_url,
            headers={"Authorization": f"Bearer {key.get_secret_value()}"},
            timeout=timeout_s,
        )
        return cls(client)

    def close(self) -> None:
        self.client.close()

    def apply(
        self, action: PlannedAction, *, idempotency_key: str, proposal_id: str
    ) -> GatewayReceipt:
        body = {"proposal_id": proposal_id, **action.model_dump(mode="json")}
        payload = self._post("/v1/actions", body, idempotency_key=idempotency_key)
        try:
            return GatewayReceipt.model_validate({**payload, "idempotency_key": idempotency_key})
        except ValidationError as exc:
            raise GatewayError(f"The enforcement API sent an unreadable receipt: {exc}") from exc

    def apply_batch(self, items: Sequence[GatewayItem], *, proposal_id: str) -> list[BatchOutcome]:
        if not items:
            return []
        if not self.batch_endpoint:
            return [self._apply_one(item, proposal_id) for item in items]
        body = {
            "proposal_id": proposal_id,
            "items": [
                {"idempotency_key": i.idempotency_key, **i.action.model_dump(mode="json")}
                for i in items
            ],
        }
        # The batch request has no key of its own: each item's key makes a replay safe.
        payload = self._post("/v1/actions/batch", body, idempotency_key=None)
        try:
            results = payload["results"]
            if not isinstance(results, list):
                raise TypeError(f"results is {type(results).__name__}, not a list")
            outcomes = [BatchOutcome.model_validate(r) for r in results]
        except (KeyError, TypeError, ValidationError) as exc:
            raise GatewayError(
                f"The enforcement API sent an unreadable batch reply: {exc}"
            ) from exc
        by_key = {o.idempotency_key: o for o in outcomes}
        missing = [i.idempotency_key for i in items if i.idempotency_key not in by_key]
        if missing:
            raise GatewayError(
                f"The enforcement API answered {len(outcomes)} of {len(items)} batch items "
                f"(first missing key: {missing[0]}); the batch will be retried."
            )
        return [by_key[i.idempotency_key] for i in items]

    def _apply_one(self, item: GatewayItem, proposal_id: str) -> BatchOutcome:
        try:
            receipt = self.apply(
                item.action, idempotency_key=item.idempotency_key, proposal_id=proposal_id
            )
        except GatewayRejected as exc:
            return BatchOutcome(idempotency_key=item.idempotency_key, error=str(exc))
        return BatchOutcome(idempotency_key=item.idempotency_key, receipt=receipt)

    def _post(self, path: str, body: object, *, idempotency_key: str | None) -> dict[str, object]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        last: _Transient | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._post_once(path, body, headers)
            except _Transient as exc:
                GATEWAY_ERRORS.labels(kind="transient").inc()
                last = exc
                if attempt == self.max_attempts:
                    break
                delay = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
                if exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), self.max_retry_after_s)
                self.sleep(delay)
        GATEWAY_ERRORS.labels(kind="unavailable").inc()
        raise GatewayUnavailable(
            f"The enforcement API at {self.client.base_url} failed {self.max_attempts} times "
            f"(last: {last}); nothing is lost, run the fanout again to resume."
        )

    def _post_once(self, path: str, body: object, headers: dict[str, str]) -> dict[str, object]:
        self.attempts += 1
        try:
            response = self.client.post(path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # resets, refused connections, broken replies
            raise _Transient(f"connection failed ({type(exc).__name__}: {exc})") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            GATEWAY_ERRORS.labels(kind="refused").inc()
            raise GatewayRejected(
                f"The enforcement API refused the request with HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise _Transient("a reply that is not JSON") from exc
        if not isinstance(payload, dict):
            raise GatewayError(f"The enforcement API sent {type(payload).__name__}, not an object.")
        return payload


def build_gateway(settings: Settings, engine: Engine) -> EnforcementGateway:
    """The configured platform: the enforcement API when its URL is set, else the local one."""
    if settings.enforcement_api_url:
        return HttpGateway.from_settings(settings)
    return LocalPlatform(engine)
