"""Filing statements of reasons with the EU DSA Transparency Database (its batch endpoint).

Invariant: every statement is filed at most once and its acceptance is recorded. The statement's
id is its `puid`, which the database refuses to accept twice; `dsa_submissions` records each
answer in its own transaction as it arrives. A crash after the database accepted a batch but
before the record was written is repaired on the next run: the database answers 422 with those
puids as `existing_puids`, and they are recorded as accepted.

A batch the database refuses stores nothing (it validates all statements first), so the
statements it names are recorded as rejected with their field errors and the rest are sent
again. Statements that fail the same rules locally (`tools.dsa.api_errors`) are never sent.
Rate limits, server errors and dropped connections are retried with exponential backoff.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel
from sqlalchemy import select

from tools import dsa
from tools.dsa_tables import DsaSubmissionRow
from tools.models import StatementOfReasons
from tools.store import Store, utcnow
from tools.tables import StatementRow
from warden.errors import ConfigError, GatewayError, InputError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

ACCEPTED, REJECTED = "accepted", "rejected"
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class SubmitReport(BaseModel):
    accepted: int = 0
    already_filed: int = 0  # accepted before, found by the database's puid check
    rejected: int = 0
    requests: int = 0


def _record(
    store: Store, puid: str, status: str, *, uuid: str | None = None, errors: object = None
) -> None:
    with store.session() as s:
        row = s.get(DsaSubmissionRow, puid)
        if row is None:
            row = DsaSubmissionRow(puid=puid, status=status, attempts=0, updated_at=utcnow())
            s.add(row)
        row.status, row.uuid, row.updated_at = status, uuid, utcnow()
        row.errors = None if errors is None else json.dumps(errors, sort_keys=True)
        row.attempts = (row.attempts or 0) + 1


def unfiled(store: Store) -> list[StatementOfReasons]:
    """Statements the database has not accepted yet, in issue order."""
    with store.session() as s:
        done = select(DsaSubmissionRow.puid).where(DsaSubmissionRow.status == ACCEPTED)
        rows = s.scalars(
            select(StatementRow.data)
            .where(StatementRow.id.not_in(done))
            .order_by(StatementRow.issued_at, StatementRow.id)
        )
        return [StatementOfReasons.model_validate(data) for data in rows]


def submission_status(store: Store) -> dict[str, int]:
    with store.session() as s:
        counts: dict[str, int] = {}
        for status in s.scalars(select(DsaSubmissionRow.status)):
            counts[status] = counts.get(status, 0) + 1
        return counts


class _Client:
    def __init__(
        self,
        http: httpx.Client,
        url: str,
        token: str,
        *,
        max_attempts: int,
        backoff_s: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.http, self.url, self.token = http, url.rstrip("/") + "/statements", token
        self.max_attempts, self.backoff_s, self.sleep = max_attempts, backoff_s, sleep
        self.requests = 0

    def post(self, statements: list[dict[str, Any]]) -> httpx.Response:
        """POST one batch; retry what may succeed later, raise on what will not."""
        last = "no answer"
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.requests += 1
            try:
                response = self.http.post(
                    self.url,
                    json={"statements": statements},
                    headers={
                        "Authorization": f"Bearer {self.token}",
                        "Accept": "application/json",
                    },
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in (401, 403):
                raise ConfigError(
                    f"The Transparency Database refused the token ({response.status_code}); "
                    "check WARDEN_DSA_API_TOKEN."
                )
            if response.status_code in RETRYABLE:
                last = f"HTTP {response.status_code}"
                wait = response.headers.get("Retry-After")
                if wait and wait.isdigit():
                    self.sleep(float(wait))
                continue
            return response
        raise GatewayError(
            f"The Transparency Database did not accept a batch after {self.max_attempts} "
            f"attempts ({last}); nothing is lost: run `warden reasons submit` again."
        )


def submit(
    store: Store,
    catalogue: Catalogue,
    *,
    url: str,
    token: str,
    http: httpx.Client | None = None,
    batch_size: int = dsa.MAX_BATCH,
    max_attempts: int = 5,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmitReport:
    """File every statement not yet accepted; return what happened."""
    if not 1 <= batch_size <= dsa.MAX_BATCH:
        raise InputError(f"batch size must be 1..{dsa.MAX_BATCH}, not {batch_size}")
    report = SubmitReport()
    ready: list[dict[str, Any]] = []
    for sor in unfiled(store):
        if dsa.is_notice(sor):
            continue  # a review's outcome told to the user, not a restriction to file
        try:
            data = dsa.to_dsa(sor, catalogue)
        except InputError as exc:
            _record(store, sor.id, REJECTED, errors={"statement": [str(exc)]})
            report.rejected += 1
            continue
        if errors := dsa.api_errors(data):
            _record(store, sor.id, REJECTED, errors=errors)
            report.rejected += 1
            continue
        ready.append(data)
    own = http is None
    client = _Client(
        http or httpx.Client(timeout=30.0),
        url,
        token,
        max_attempts=max_attempts,
        backoff_s=backoff_s,
        sleep=sleep,
    )
    try:
        for start in range(0, len(ready), batch_size):
            _file_batch(store, client, ready[start : start + batch_size], report)
    finally:
        report.requests = client.requests
        if own:
            client.http.close()
    return report


def _file_batch(
    store: Store, client: _Client, batch: list[dict[str, Any]], report: SubmitReport
) -> None:
    while batch:
        response = client.post(batch)
        body = _json(response)
        if response.status_code in (200, 201):
            filed = {s.get("puid"): s.get("uuid") for s in body.get("statements", [])}
            for item in batch:
                _record(store, item["puid"], ACCEPTED, uuid=filed.get(item["puid"]))
                report.accepted += 1
            return
        if response.status_code != 422:
            raise GatewayError(
                f"The Transparency Database answered {response.status_code}: "
                f"{str(body.get('message', response.text))[:300]}"
            )
        errors = body.get("errors", {})
        existing = set(errors.get("existing_puids") or [])
        refused = {
            int(key.removeprefix("statement_")): value
            for key, value in errors.items()
            if key.startswith("statement_") and key.removeprefix("statement_").isdigit()
        }
        if not existing and not refused:
            raise GatewayError(f"The Transparency Database refused the batch: {errors}")
        keep = []
        for index, item in enumerate(batch):
            if item["puid"] in existing:
                _record(store, item["puid"], ACCEPTED)
                report.already_filed += 1
            elif index in refused:
                _record(store, item["puid"], REJECTED, errors=refused[index])
                report.rejected += 1
            else:
                keep.append(item)
        batch = keep


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def rejections(store: Store) -> list[tuple[str, dict[str, list[str]], datetime]]:
    """Every statement the database (or the local check) refused, with its field errors."""
    with store.session() as s:
        rows = s.scalars(
            select(DsaSubmissionRow)
            .where(DsaSubmissionRow.status == REJECTED)
            .order_by(DsaSubmissionRow.updated_at)
        )
        return [(r.puid, json.loads(r.errors or "{}"), r.updated_at) for r in rows]
