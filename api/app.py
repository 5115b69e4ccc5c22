"""The `/api/v1/` application: cases and detector proposals in, cases and proposals out.

Every request passes `Guard` first: bodies over the cap are refused unread (413), and every call
is audited with the calling key's name before its last byte is sent. Bad input is a 4xx naming
the fields (never a 500) and stores nothing; a retried submission with the same idempotency key
returns the first answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import anyio
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import idempotency
from api.auth import Caller, KeyRing
from tools import appeals, audit, casework, detectors
from tools.appeals import AppealRecord
from tools.cases import put_case
from tools.casework import CaseWork
from tools.models import Case, Proposal, ProposalStatus
from tools.store import Store, case_from_row, proposal_from_row
from tools.tables import CaseRow, ProposalRow
from warden.errors import NotFoundError, WardenError
from warden.integrations import ApiKey, Scope

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from tools.gates import Gates
    from warden.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
T = TypeVar("T")
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]
IdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f/]+$")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[!-~]+$",
        description="a retried request with the same key returns the first answer",
    ),
]


_bearer = HTTPBearer(auto_error=False, description="an API key from WARDEN_API_KEYS")


def _scoped(scope: Scope) -> Callable[..., Caller]:
    """The dependency that authenticates a request and requires `scope` (401, then 403)."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        ring: KeyRing = request.app.state.keyring
        caller = ring.identify(credentials.credentials if credentials else None)
        if caller is None:
            raise ApiError(
                401,
                "send a valid API key as `Authorization: Bearer KEY`",
                {"WWW-Authenticate": "Bearer"},
            )
        request.state.api_caller = caller.name  # the audit names the key, never shows it
        if scope not in caller.scopes:
            raise ApiError(403, f"the key {caller.name!r} lacks the {scope.value!r} scope")
        return caller

    return dependency


CasesCaller = Annotated[Caller, Depends(_scoped(Scope.CASES))]
ProposalsCaller = Annotated[Caller, Depends(_scoped(Scope.PROPOSALS))]
ReadCaller = Annotated[Caller, Depends(_scoped(Scope.READ))]
AppealsCaller = Annotated[Caller, Depends(_scoped(Scope.APPEALS))]


class AppealIn(BaseModel):
    """The affected account's appeal, filed by the platform on its behalf."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the enforced case id, or the key of the applied action",
    )
    reason: str = Field(min_length=1, max_length=4000, description="the account's grounds")


class ProposalNotifier(Protocol):
    """Posts a freshly created proposal's card for approval (the Slack app implements it)."""

    def proposal_created(self, submitted: detectors.Submitted) -> None: ...


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationOut(BaseModel):
    detail: list[FieldError]


class CasePage(BaseModel):
    items: list[Case]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")


class ProposalPage(BaseModel):
    items: list[Proposal]
    next_cursor: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no key, or not a valid key"},
    403: {"model": ErrorOut, "description": "the key lacks the scope"},
    413: {"model": ErrorOut, "description": "body larger than the cap"},
    422: {"model": ValidationOut, "description": "bad input; each error names its field"},
}


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = (cursor + "=" * (-len(cursor) % 4)).encode()
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _field_error(("query", "cursor"), "not a cursor this API returned") from None


class _FieldErrors(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.errors = errors


def _field_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> _FieldErrors:
    return _FieldErrors([{"loc": list(loc), "msg": msg, "type": kind}])


def _clean(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's validation errors without echoed input (it may be large or sensitive)."""
    cleaned = []
    for err in errors:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type"))})
    return cleaned


def _retry_race(work: Callable[[], T]) -> T:
    """Run `work` again once if a concurrent request inserted the same row first (Postgres):
    the second run finds that row, and answers as for a repeat or a conflict."""
    try:
        return work()
    except IntegrityError:
        return work()


def build_api(
    *,
    store: Store,
    catalogue: Catalogue,
    gates: Gates,
    keys: list[ApiKey],
    notifier: ProposalNotifier | None = None,
    max_body_bytes: int = 1_000_000,
    proposal_ttl: timedelta = timedelta(hours=4),
) -> ASGIApp:
    """The API over clients the caller built once; mount it beside the Slack endpoints."""
    app = FastAPI(
        title="Warden API",
        version="1",
        description="Cases and detector proposals in; decisions flow back through webhooks.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.keyring = KeyRing(keys)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not even decode the body (not UTF-8 JSON)
            error = {"loc": ["body"], "msg": "the body is not UTF-8 JSON", "type": "json_invalid"}
            return JSONResponse({"detail": [error]}, status_code=422)
        return JSONResponse(
            {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(_FieldErrors)
    async def _fields(request: Request, exc: _FieldErrors) -> JSONResponse:
        return JSONResponse({"detail": exc.errors}, status_code=422)

    def replayed(caller: Caller, key: str | None, endpoint: str, body: Any) -> JSONResponse | None:
        if key is None:
            return None
        first = idempotency.reserve(
            store, caller.name, key, endpoint, idempotency.request_hash(endpoint, body)
        )
        if first is None:
            return None
        return JSONResponse(first.body, status_code=first.status_code)

    def answered(caller: Caller, key: str | None, status: int, model: BaseModel) -> JSONResponse:
        body = jsonable_encoder(model)
        if key is not None:
            idempotency.complete(store, caller.name, key, status, body)
        return JSONResponse(body, status_code=status)

    def refused(caller: Caller, key: str | None, exc: Exception) -> Exception:
        """Release the key (nothing was stored) and turn a Warden error into its answer."""
        if key is not None:
            idempotency.release(store, caller.name, key)
        if isinstance(exc, detectors.FieldProblem):
            return _field_error(("body", *exc.loc), exc.message)
        if isinstance(exc, NotFoundError):
            return ApiError(404, str(exc))
        if isinstance(exc, WardenError):  # stored evidence differs, gate off: a conflict
            return ApiError(409, str(exc))
        return exc

    conflict: dict[int | str, dict[str, Any]] = {
        409: {"model": ErrorOut, "description": "conflicts with what is stored"}
    }

    @app.post(
        f"{PREFIX}/cases",
        status_code=201,
        response_model=Case,
        responses={
            200: {"model": Case, "description": "this exact case was already stored"},
            **conflict,
            **ERRORS,
        },
        summary="Submit a case (one line of `warden cases import`)",
    )
    def submit_case(
        case: Case,
        caller: CasesCaller,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        payload = case.model_dump(mode="json")
        if (first := replayed(caller, idempotency_key, "cases", payload)) is not None:
            return first

        def store_case() -> bool:
            with store.session() as s:
                return put_case(s, case)

        try:
            created = _retry_race(store_case)
        except Exception as exc:
            raise refused(caller, idempotency_key, exc) from None
        # A new case is stored as given; an identical one already stored is read back as it is.
        stored = case if created else store.get_case(case.id)
        return answered(caller, idempotency_key, 201 if created else 200, stored)

    @app.get(
        f"{PREFIX}/cases/{{case_id}}",
        response_model=Case,
        responses={404: {"model": ErrorOut}, **ERRORS},
        summary="Read a case",
    )
    def read_case(case_id: IdPath, caller: ReadCaller) -> Case:
        try:
            return store.get_case(case_id)
        except NotFoundError as exc:
            raise ApiError(404, str(exc)) from None

    @app.get(f"{PREFIX}/cases", response_model=CasePage, responses=ERRORS, summary="List cases")
    def list_cases(
        caller: ReadCaller,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> CasePage:
        after = _decode_cursor(cursor)
        with store.session() as s:
            query = select(CaseRow).order_by(CaseRow.id).limit(limit + 1)
            if after is not None:
                query = query.where(CaseRow.id > after)
            rows = list(s.scalars(query))
            items = [case_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return CasePage(items=items, next_cursor=_encode_cursor(items[-1].id) if more else None)

    @app.post(
        f"{PREFIX}/proposals",
        status_code=201,
        response_model=detectors.Submitted,
        responses={
            202: {"model": detectors.Submitted, "description": "recorded in shadow mode"},
            409: {"model": ErrorOut, "description": "the gate is off, or the content conflicts"},
            **ERRORS,
        },
        summary="Submit a detector cluster and an auto-action proposal",
    )
    def submit_proposal(
        submission: detectors.DetectorSubmission,
        caller: ProposalsCaller,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        key = idempotency_key or (
            f"submission:{submission.submission_id}" if submission.submission_id else None
        )
        payload = submission.model_dump(mode="json")
        if (first := replayed(caller, key, "proposals", payload)) is not None:
            return first
        cluster_id = None
        if key is not None:
            cluster_id = "det-" + idempotency.request_hash(caller.name, key)[:20]
        try:
            submitted = _retry_race(
                lambda: detectors.submit(
                    store,
                    catalogue,
                    gates,
                    submission,
                    requester_id=f"detector:{submission.detector.ref}",
                    cluster_id=cluster_id,
                    ttl=proposal_ttl,
                )
            )
        except Exception as exc:
            raise refused(caller, key, exc) from None
        status = 201 if submitted.outcome == "proposed" else 202
        response = answered(caller, key, status, submitted)
        if submitted.proposal is not None and notifier is not None:
            try:
                notifier.proposal_created(submitted)
            except Exception:  # the proposal is stored and pending; the card can be re-posted
                log.exception("could not post the card of %s", submitted.proposal.id)
        return response

    @app.get(
        f"{PREFIX}/proposals/{{proposal_id}}",
        response_model=Proposal,
        responses={404: {"model": ErrorOut}, **ERRORS},
        summary="Read a proposal",
    )
    def read_proposal(proposal_id: IdPath, caller: ReadCaller) -> Proposal:
        try:
            return store.get_proposal(proposal_id)
        except NotFoundError as exc:
            raise ApiError(404, str(exc)) from None

    @app.get(
        f"{PREFIX}/proposals",
        response_model=ProposalPage,
        responses=ERRORS,
        summary="List proposals",
    )
    def list_proposals(
        caller: ReadCaller,
        status: ProposalStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> ProposalPage:
        after = _decode_cursor(cursor)
        with store.session() as s:
            query = select(ProposalRow).order_by(ProposalRow.id).limit(limit + 1)
            if after is not None:
                query = query.where(ProposalRow.id > after)
            if status is not None:
                query = query.where(ProposalRow.status == status.value)
            rows = list(s.scalars(query))
            items = [proposal_from_row(s, r) for r in rows[:limit]]
        more = len(rows) > limit
        return ProposalPage(items=items, next_cursor=_encode_cursor(items[-1].id) if more else None)

    @app.post(
        f"{PREFIX}/appeals",
        status_code=201,
        response_model=AppealRecord,
        responses={404: {"model": ErrorOut}, **conflict, **ERRORS},
        summary="File an appeal on behalf of the affected account",
    )
    def file_appeal(
        appeal: AppealIn, caller: AppealsCaller, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        payload = appeal.model_dump(mode="json")
        if (first := replayed(caller, idempotency_key, "appeals", payload)) is not None:
            return first
        try:
            filed = appeals.file_appeal(store, catalogue, appeal.target, reason=appeal.reason)
        except Exception as exc:
            raise refused(caller, idempotency_key, exc) from None
        return answered(caller, idempotency_key, 201, filed)

    @app.get(
        f"{PREFIX}/appeals/{{appeal_id}}",
        response_model=AppealRecord,
        responses={404: {"model": ErrorOut}, **ERRORS},
        summary="Read an appeal and its outcome",
    )
    def read_appeal(appeal_id: IdPath, caller: ReadCaller) -> AppealRecord:
        try:
            return appeals.get_appeal(store, appeal_id)
        except NotFoundError as exc:
            raise ApiError(404, str(exc)) from None

    @app.get(
        f"{PREFIX}/cases/{{case_id}}/decision",
        response_model=CaseWork,
        responses={404: {"model": ErrorOut}, **ERRORS},
        summary="Read where a case stands: claim, decision, actions, closure",
    )
    def read_decision(case_id: IdPath, caller: ReadCaller) -> CaseWork:
        try:
            return casework.get_work(store, catalogue, case_id)
        except NotFoundError as exc:
            raise ApiError(404, str(exc)) from None

    return Guard(app, store, max_body_bytes=max_body_bytes)


def api_from_settings(
    settings: Settings, *, store: Store, notifier: ProposalNotifier | None = None
) -> ASGIApp:
    """The API as `warden serve` mounts it: catalogue and gates from the settings."""
    from knowledge.catalogue import load_catalogue
    from tools.gates import load_gates

    return build_api(
        store=store,
        catalogue=load_catalogue(settings.catalogue_dir),
        gates=load_gates(settings.gates_file),
        keys=settings.api_keys,
        notifier=notifier,
        max_body_bytes=settings.api_max_body_bytes,
        proposal_ttl=timedelta(minutes=settings.proposal_ttl_minutes),
    )


async def _json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: the body cap (413, unread) and one audit event per call."""

    def __init__(self, app: Any, store: Store, *, max_body_bytes: int) -> None:
        self.app = app
        self.store = store
        self.max_body_bytes = max_body_bytes
        # SQLite has one writer (and every store transaction takes the write lock): queueing
        # this process's requests here beats its busy handler's back-off sleeps (bench.api_load:
        # 8 clients, 55 -> 88 requests/s and p99 about 1 s -> 0.4 s).
        self._one_at_a_time = anyio.Lock() if store.engine.dialect.name == "sqlite" else None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def audited_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await self._audit(scope, status)  # recorded before the caller has the answer
            await send(message)

        body = await self._read(scope, receive)
        if body is None:
            status = 413
            await self._audit(scope, status)
            await _json(send, 413, f"request body larger than {self.max_body_bytes} bytes")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if self._one_at_a_time is None:
            await self.app(scope, replay, audited_send)
            return
        async with self._one_at_a_time:
            await self.app(scope, replay, audited_send)

    async def _read(self, scope: MutableMapping[str, Any], receive: Receive) -> bytes | None:
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _audit(self, scope: MutableMapping[str, Any], status: int) -> None:
        caller = (scope.get("state") or {}).get("api_caller")
        method = str(scope.get("method", ""))
        path = str(scope.get("path", ""))[:200]
        try:
            await anyio.to_thread.run_sync(
                lambda: audit.record(
                    self.store,
                    actor=f"api:{caller}" if caller else "api:unauthenticated",
                    verb="api.call",
                    subject=f"{method} {path}"[:255],
                    source="api",
                    outcome=str(status),
                    details={"method": method, "path": path, "status": status},
                )
            )
        except Exception:  # an audit failure is logged loudly, never turned into a 500 here
            log.exception("could not audit %s %s", method, path)


__all__ = ["ProposalNotifier", "api_from_settings", "build_api"]
