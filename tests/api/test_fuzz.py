"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis): no 5xx,
every status, header, content type and body as the document says. A bounded number of examples
per operation, valid and invalid inputs, authenticated with a key holding every scope; on SQLite
and Postgres (where a value too long for its column would be a database error)."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from tests.api.conftest import ALL_KEY, Api, bearer

EXAMPLES = int(os.environ.get("WARDEN_FUZZ_EXAMPLES", "30"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The OpenAPI document the server serves, built from the same factory without a store.

    (schemathesis' `from_fixture` does not run under pytest 9, so the schema is loaded here and
    the test checks below that the live server serves this very document.)"""
    import tempfile

    from api.app import build_api
    from tools.store import Store

    store = Store.open(f"sqlite:///{tempfile.mkdtemp(prefix='openapi-')}/doc.db", migrate=False)
    try:
        guard: Any = build_api(store=store, catalogue=None, gates=None, keys=[])  # type: ignore[arg-type]
        document: dict[str, Any] = guard.app.openapi()
    finally:
        store.close()
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def test_the_server_serves_the_fuzzed_document(api: Api) -> None:
    served = api.http.get(api.url + "/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case: Any, api: Api) -> None:
    case.call_and_validate(base_url=api.url, headers=bearer(ALL_KEY), checks=CHECKS)
