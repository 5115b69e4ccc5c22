"""Where approved actions land: the enforcement gateway protocol and its two adapters.

`LocalPlatform` keeps content and account state in the store's own database (demo, tests); it
can apply inside the caller's transaction, so the fanout commits "applied on the platform" and
"marked applied in the ledger" together. `HttpGateway` calls an enforcement API; there the
`Idempotency-Key` header makes every retry (after a timeout, a reset, a crash) safe.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from knowledge.vocabulary import ActionType
from tools.fanout_tables import PlatformReceiptRow, PlatformTargetRow, conflict_insert
from tools.models import PlannedAction
from warden.errors import ConfigError, GatewayError
from warden.metrics import GATEWAY_ERRORS
from warden.redact import redact, redact_url, secrets_of
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
    """Per-item result of a batch: a receipt, or why the platform refused this one item.

    `retryable` (set by the API, or by the gateway after every retry failed): the item was not
    applied and may be sent again later; its ledger row stays pending.
    """

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    receipt: GatewayReceipt | None = None
    error: str | None = None
    retryable: bool = False

    @model_validator(mode="after")
    def _one_answer(self) -> BatchOutcome:
        if (self.receipt is None) == (self.error is None):
            raise ValueError("a result holds exactly one of a receipt and an error")
        if self.retryable and self.receipt is not None:
            raise ValueError("a receipt cannot be retryable")
        return self


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


@runtime_checkable
class ReversibleGateway(Protocol):
    """A platform that can undo applied actions (an overturned appeal restores the content)."""

    def reverse_batch(
        self, items: Sequence[GatewayItem], *, proposal_id: str
    ) -> list[BatchOutcome]: ...


def reversal_key(idempotency_key: str) -> str:
    """The key that makes undoing an applied action a second time a no-op."""
    key = f"reverse:{idempotency_key}"
    if len(key) <= 255:
        return key
    import hashlib

    return f"reverse:sha256:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


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

    def reverse_batch(
        self, items: Sequence[GatewayItem], *, proposal_id: str
    ) -> list[BatchOutcome]:
        """Undo applied actions once per key (`items` carry the reversal keys): the content is
        restored, the account's counters go back; a key seen before returns its first receipt."""
        if not items:
            return []
        with Session(self.engine) as session, session.begin():
            dialect = session.get_bind().dialect.name
            now = _now()
            rows = [
                {
                    "idempotency_key": item.idempotency_key,
                    "receipt_id": f"rcpt-{uuid.uuid4().hex}",
                    "proposal_id": proposal_id,
                    "target_type": item.action.target_type,
                    "target_id": item.action.target_id,
                    "action": f"reverse_{item.action.action.value}",
                    "section_id": item.action.section_id,
                    "applied_at": now,
                    "deliveries": 1,
                }
                for item in items
            ]
            stmt = (
                conflict_insert(dialect, PlatformReceiptRow.__table__)  # type: ignore[arg-type]
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(PlatformReceiptRow.idempotency_key)
            )
            new_keys = set(session.scalars(stmt, rows))
            table = PlatformTargetRow.__table__
            for item in items:
                if item.idempotency_key not in new_keys:
                    continue
                column = table.c[_COUNTER[item.action.action]]
                session.execute(
                    update(table)  # type: ignore[arg-type]
                    .where(
                        table.c.target_type == item.action.target_type,
                        table.c.target_id == item.action.target_id,
                        column > 0,
                    )
                    .values({column: column - 1, "updated_at": now})
                )
            stored = {
                r.idempotency_key: r
                for r in session.scalars(
                    select(PlatformReceiptRow).where(
                        PlatformReceiptRow.idempotency_key.in_([i.idempotency_key for i in items])
                    )
                )
            }
            return [
                BatchOutcome(
                    idempotency_key=item.idempotency_key,
                    receipt=GatewayReceipt(
                        idempotency_key=item.idempotency_key,
                        receipt_id=stored[item.idempotency_key].receipt_id,
                        target_type=item.action.target_type,
                        target_id=item.action.target_id,
                        action=item.action.action,
                        applied_at=stored[item.idempotency_key].applied_at,
                        replayed=item.idempotency_key not in new_keys,
                    ),
                )
                for item in items
            ]

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


# The end of the request in flight on this thread (monotonic seconds), read by the network
# streams below: a per-read timeout alone lets a server that sends one byte every few seconds
# hold a request open forever, headers included.
_DEADLINE: ContextVar[float | None] = ContextVar("enforcement_api_deadline", default=None)


def _bounded(timeout: float | None) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("the request's total deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def deadline_transport() -> httpx.HTTPTransport:
    """An httpx transport whose every socket read, write and connect obeys `_DEADLINE`."""
    transport = httpx.HTTPTransport()
    pool = transport._pool  # httpx exposes no backend argument; its pool takes one
    pool._network_backend = _DeadlineBackend(pool._network_backend)
    return transport


# Error codes an API may send are shown (`code`); its free text never is: upstream bodies can
# echo a request's headers, and what Warden shows people must not carry them.
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def _error_code(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return None
    for name in ("code", "error_code", "error"):
        value = payload.get(name)
        if isinstance(value, str) and _CODE.fullmatch(value):
            return value
    return None


def _marked_retryable(payload: object) -> bool:
    return isinstance(payload, dict) and payload.get("retryable") is True


def _mismatch(item: GatewayItem, receipt: GatewayReceipt) -> str | None:
    """Why `receipt` is not the platform's answer for `item` (None when it is)."""
    expected = (
        item.idempotency_key,
        item.action.target_type,
        item.action.target_id,
        item.action.action,
    )
    got = (receipt.idempotency_key, receipt.target_type, receipt.target_id, receipt.action)
    if expected == got:
        return None
    fields = ("idempotency key", "target type", "target id", "action")
    wrong = [name for name, e, g in zip(fields, expected, got, strict=True) if e != g]
    return f"a receipt for {item.idempotency_key} names another {', '.join(wrong)}"


class HttpGateway:
    """Calls an enforcement API: `POST /v1/actions` and `/v1/actions/batch`, bearer auth.

    Only HTTP 200 and 201 with a receipt that names the item's own key, target and action
    count as applied; anything else (a redirect, 202, 204, a receipt for something else, a
    reply holding a receipt and an error) leaves the action unapplied and the run resumable.
    Timeouts, 5xx, 429 (honouring Retry-After), connection resets and errors the API marks
    `"retryable": true` are retried with bounded exponential backoff; every retry carries the
    same `Idempotency-Key`, so a request that did land before the failure is answered with its
    first receipt instead of being applied again. Each request has a total deadline and a cap
    on the reply's size.
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
        deadline_s: float = 30.0,
        max_response_bytes: int = 2_000_000,
        secrets: Sequence[str] = (),
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
        self.deadline_s = deadline_s
        self.max_response_bytes = max_response_bytes
        self.secrets = tuple(secrets)
        self.sleep = sleep
        self.attempts = 0  # requests sent, retries included (tests and logs read it)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout_s: float = 10.0, deadline_s: float = 30.0
    ) -> HttpGateway:
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
            timeout=min(timeout_s, deadline_s),
            transport=deadline_transport(),
        )
        return cls(client, deadline_s=deadline_s, secrets=secrets_of(settings))

    def close(self) -> None:
        self.client.close()

    @property
    def where(self) -> str:
        """The API's address as it may be shown (no credentials)."""
        return redact_url(str(self.client.base_url))

    def _clean(self, text: str) -> str:
        return redact(text, self.secrets)

    def apply(
        self, action: PlannedAction, *, idempotency_key: str, proposal_id: str
    ) -> GatewayReceipt:
        body = {"proposal_id": proposal_id, **action.model_dump(mode="json")}
        payload = self._post("/v1/actions", body, idempotency_key=idempotency_key)
        if "error" in payload:
            raise GatewayError(
                f"The enforcement API at {self.where} sent a receipt and an error for "
                f"{idempotency_key}; nothing was marked applied (run the fanout again to resume)."
            )
        try:
            receipt = GatewayReceipt.model_validate(
                {**payload, "idempotency_key": payload.get("idempotency_key", idempotency_key)}
            )
        except ValidationError as exc:
            raise GatewayError(
                f"The enforcement API at {self.where} sent an unreadable receipt "
                f"({exc.error_count()} problem(s)); nothing was marked applied."
            ) from exc
        wrong = _mismatch(GatewayItem(action=action, idempotency_key=idempotency_key), receipt)
        if wrong:
            raise GatewayError(
                f"The enforcement API at {self.where} sent {wrong}; nothing was marked applied."
            )
        return receipt

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
            problem = (
                f"{exc.error_count()} invalid result(s)"
                if isinstance(exc, ValidationError)
                else type(exc).__name__
            )
            raise GatewayError(
                f"The enforcement API at {self.where} sent an unreadable batch reply "
                f"({problem}); nothing was marked applied, the batch will be retried."
            ) from exc
        return self._match(items, outcomes)

    def _match(
        self, items: Sequence[GatewayItem], outcomes: Sequence[BatchOutcome]
    ) -> list[BatchOutcome]:
        """One outcome per item, each receipt checked against its item; refuse anything else."""
        sent = {i.idempotency_key: i for i in items}
        by_key: dict[str, BatchOutcome] = {}
        for outcome in outcomes:
            key = outcome.idempotency_key
            problem = None
            if key not in sent:
                problem = f"a result for a key it was not sent ({key[:80]})"
            elif key in by_key:
                problem = f"two results for {key}"
            elif outcome.receipt is not None:
                problem = _mismatch(sent[key], outcome.receipt)
            if problem:
                raise GatewayError(
                    f"The enforcement API at {self.where} sent {problem}; nothing in this "
                    "batch was marked applied (run the fanout again to resume)."
                )
            by_key[key] = outcome
        missing = [key for key in sent if key not in by_key]
        if missing:
            raise GatewayError(
                f"The enforcement API answered {len(by_key)} of {len(items)} batch items "
                f"(first missing key: {missing[0]}); the batch will be retried."
            )
        matched = []
        for item in items:
            outcome = by_key[item.idempotency_key]
            if outcome.error:
                # The API's own words reach the ledger and the card: one line, no secrets.
                error = " ".join(self._clean(outcome.error).split())[:300]
                outcome = outcome.model_copy(update={"error": error})
            matched.append(outcome)
        return matched

    def reverse_batch(
        self, items: Sequence[GatewayItem], *, proposal_id: str
    ) -> list[BatchOutcome]:
        """`POST /v1/actions/reverse` per item, its reversal key as the `Idempotency-Key`."""
        out = []
        for item in items:
            body = {"proposal_id": proposal_id, **item.action.model_dump(mode="json")}
            try:
                payload = self._post(
                    "/v1/actions/reverse", body, idempotency_key=item.idempotency_key
                )
                receipt = GatewayReceipt.model_validate(
                    {**payload, "idempotency_key": item.idempotency_key}
                )
            except GatewayRejected as exc:
                out.append(BatchOutcome(idempotency_key=item.idempotency_key, error=str(exc)))
                continue
            except ValidationError as exc:
                raise GatewayError(
                    f"The enforcement API sent an unreadable receipt: {exc}"
                ) from exc
            out.append(BatchOutcome(idempotency_key=item.idempotency_key, receipt=receipt))
        return out

    def _apply_one(self, item: GatewayItem, proposal_id: str) -> BatchOutcome:
        try:
            receipt = self.apply(
                item.action, idempotency_key=item.idempotency_key, proposal_id=proposal_id
            )
        except GatewayRejected as exc:
            return BatchOutcome(idempotency_key=item.idempotency_key, error=str(exc))
        except GatewayUnavailable as exc:  # the item stays pending; later items still run
            return BatchOutcome(
                idempotency_key=item.idempotency_key, error=str(exc), retryable=True
            )
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
            self._clean(
                f"The enforcement API at {self.where} failed {self.max_attempts} times "
                f"(last: {last}); nothing is lost, run the fanout again to resume."
            )
        )

    def _post_once(self, path: str, body: object, headers: dict[str, str]) -> dict[str, object]:
        self.attempts += 1
        deadline = time.monotonic() + self.deadline_s
        token = _DEADLINE.set(deadline)
        try:
            with self.client.stream("POST", path, json=body, headers=headers) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    raise _Transient(f"HTTP {status}", _retry_after(response))
                raw = self._read(response, deadline)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # resets, refused connections, broken replies
            raise _Transient(f"connection failed ({type(exc).__name__})") from exc
        finally:
            _DEADLINE.reset(token)
        try:
            payload: object = json.loads(raw)
        except (ValueError, RecursionError):
            payload = None
        if 400 <= status < 500:
            code = _error_code(payload)
            shown = f" ({code})" if code else ""
            if _marked_retryable(payload):
                raise _Transient(f"HTTP {status}{shown}, marked retryable")
            GATEWAY_ERRORS.labels(kind="refused").inc()
            raise GatewayRejected(
                f"The enforcement API refused the request with HTTP {status}{shown}."
            )
        if status not in (200, 201):
            raise GatewayError(
                f"The enforcement API at {self.where} answered HTTP {status}; only 200 and 201 "
                "with a receipt count as applied, so nothing was marked applied (run the "
                "fanout again to resume once the API answers normally)."
            )
        if payload is None:
            raise _Transient("a reply that is not JSON")
        if not isinstance(payload, dict):
            raise GatewayError(f"The enforcement API sent {type(payload).__name__}, not an object.")
        return payload

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The reply's body, refusing one over the size cap or past the total deadline."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise GatewayError(
                f"The enforcement API at {self.where} sent a {declared}-byte reply (the cap is "
                f"{self.max_response_bytes}); nothing was marked applied."
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():  # decoded: the cap also bounds a compressed bomb
            size += len(chunk)
            if size > self.max_response_bytes:
                raise GatewayError(
                    f"The enforcement API at {self.where} sent a reply over "
                    f"{self.max_response_bytes} bytes; nothing was marked applied."
                )
            if time.monotonic() > deadline:
                raise _Transient(f"the reply took longer than the {self.deadline_s:g} s deadline")
            chunks.append(chunk)
        return b"".join(chunks)


def build_gateway(settings: Settings, engine: Engine) -> EnforcementGateway:
    """The configured platform: the enforcement API when its URL is set, else the local one.

    Production never falls back to the local stand-in platform: without an enforcement API
    nothing would reach the real platform while the ledger says applied.
    """
    if settings.enforcement_api_url:
        return HttpGateway.from_settings(settings)
    if settings.environment == "production":
        raise ConfigError(
            "WARDEN_ENV=production needs a real enforcement API: set WARDEN_ENFORCEMENT_API_URL "
            "and WARDEN_ENFORCEMENT_API_KEY (the built-in local platform is for development)."
        )
    return LocalPlatform(engine)
