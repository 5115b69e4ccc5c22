"""The HTTP API on a real server over loopback: keys and scopes, cases, detector proposals
through the gates, idempotent retries, bad input (4xx naming fields, nothing stored), reads
with cursors, and an audit event per call naming the key."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.api.conftest import (
    DETECTOR_KEY,
    FAKE_KEYS,
    INTAKE_KEY,
    MAX_BODY,
    READER_KEY,
    Api,
    case_body,
    open_gate,
    submission,
)
from tools import audit
from tools.ops_tables import ShadowRecordRow
from tools.tables import CaseRow, ClusterRow, ContentRow, ProposalRow


def count(api: Api, table: Any) -> int:
    with api.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def stored_nothing(api: Api) -> bool:
    return all(
        count(api, t) == 0 for t in (CaseRow, ContentRow, ClusterRow, ProposalRow, ShadowRecordRow)
    )


# ---- authentication ---------------------------------------------------------------------------


def test_no_key_wrong_key_and_missing_scope(api: Api) -> None:
    no_key = api.http.post(api.url + "/api/v1/cases", json=case_body())
    assert no_key.status_code == 401
    assert no_key.headers["www-authenticate"] == "Bearer"
    wrong = api.post("/api/v1/cases", case_body(), key=INTAKE_KEY + "x")
    assert wrong.status_code == 401
    basic = api.http.post(
        api.url + "/api/v1/cases", json=case_body(), headers={"Authorization": "Basic abc"}
    )
    assert basic.status_code == 401
    scope = api.post("/api/v1/cases", case_body(), key=READER_KEY)
    assert scope.status_code == 403
    assert "'cases' scope" in scope.json()["detail"]
    assert api.get("/api/v1/cases", key=INTAKE_KEY).status_code == 403
    assert stored_nothing(api)


def test_every_call_is_audited_with_the_key_name_and_keys_never_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post("/api/v1/cases", case_body(), key=INTAKE_KEY)
    api.get("/api/v1/cases/C-api-1", key=READER_KEY)
    api.post("/api/v1/cases", case_body(), key=READER_KEY)
    api.http.get(api.url + "/api/v1/cases")
    calls = audit.events(api.store, verb="api.call")
    seen = [(e.actor, e.subject, e.outcome) for e in calls]
    assert seen == [
        ("api:intake", "POST /api/v1/cases", "201"),
        ("api:reader", "GET /api/v1/cases/C-api-1", "200"),
        ("api:reader", "POST /api/v1/cases", "403"),
        ("api:unauthenticated", "GET /api/v1/cases", "401"),
    ]
    assert audit.verify(api.store).ok
    logged = "\n".join(r.getMessage() for r in caplog.records)
    rows = "\n".join(e.model_dump_json() for e in audit.events(api.store))
    for key in FAKE_KEYS:
        assert key not in logged
        assert key not in rows


# ---- cases ------------------------------------------------------------------------------------


def test_submit_case_then_retry_then_conflict(api: Api) -> None:
    first = api.post("/api/v1/cases", case_body(n_items=2), key=INTAKE_KEY)
    assert first.status_code == 201, first.text
    assert first.json()["id"] == "C-api-1"
    assert first.json()["status"] == "new"
    again = api.post("/api/v1/cases", case_body(n_items=2), key=INTAKE_KEY)
    assert again.status_code == 200
    assert again.json() == first.json()
    changed = case_body(n_items=2)
    changed["items"][0]["text"] = "something else"
    conflict = api.post("/api/v1/cases", changed, key=INTAKE_KEY)
    assert conflict.status_code == 409
    assert "already stored" in conflict.json()["detail"]
    assert count(api, CaseRow) == 1
    assert api.store.get_case("C-api-1").items[0].text == "buy now item 0"


def test_idempotency_key_returns_the_first_answer(api: Api) -> None:
    first = api.post("/api/v1/cases", case_body(), key=INTAKE_KEY, **{"Idempotency-Key": "k-1"})
    retry = api.post("/api/v1/cases", case_body(), key=INTAKE_KEY, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    other = api.post(
        "/api/v1/cases", case_body("C-api-2"), key=INTAKE_KEY, **{"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]
    assert count(api, CaseRow) == 1


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("items"), ["body", "items"]),
        (lambda b: b.update(items=[]), ["body", "items"]),
        (lambda b: b.update(opened_at="yesterday"), ["body", "opened_at"]),
        (lambda b: b.update(opened_at="0001-01-01T00:00:00+01:00"), ["body", "opened_at"]),
        (lambda b: b.update(opened_at="9999-12-31T23:59:59-05:00"), ["body", "opened_at"]),
        (lambda b: b.update(signals={"spam": 7}), ["body", "signals", "spam"]),
        (lambda b: b.update(source="rumour"), ["body", "source"]),
        (lambda b: b.update(id="x" * 129), ["body", "id"]),
        (lambda b: b.update(id="bad\x00id"), ["body", "id"]),
        (lambda b: b.update(extra="field"), ["body", "extra"]),
        (lambda b: b["items"][0].update(author_id=5), ["body", "items", 0, "author_id"]),
    ],
)
def test_bad_case_names_the_field_and_stores_nothing(
    api: Api, mutate: Any, field: list[Any]
) -> None:
    body = case_body()
    mutate(body)
    response = api.post("/api/v1/cases", body, key=INTAKE_KEY)
    assert response.status_code == 422, response.text
    assert field in [e["loc"] for e in response.json()["detail"]]
    assert stored_nothing(api)


def test_malformed_json_and_oversized_body(api: Api) -> None:
    broken = api.http.post(
        api.url + "/api/v1/cases",
        content=b'{"id": "C-1", ',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {INTAKE_KEY}"},
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    huge = case_body()
    huge["items"][0]["text"] = "x" * (MAX_BODY + 10)
    too_big = api.post("/api/v1/cases", huge, key=INTAKE_KEY)
    assert too_big.status_code == 413
    chunked = api.http.post(
        api.url + "/api/v1/cases",
        content=iter([b"{" + b" " * 40_000, b" " * 40_000 + b"}"]),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {INTAKE_KEY}"},
    )
    assert chunked.status_code == 413
    assert stored_nothing(api)


def test_read_and_list_cases_with_cursors(api: Api) -> None:
    for n in range(5):
        assert api.post("/api/v1/cases", case_body(f"C-list-{n}")).status_code == 201
    one = api.get("/api/v1/cases/C-list-3", key=READER_KEY)
    assert one.status_code == 200 and one.json()["id"] == "C-list-3"
    assert api.get("/api/v1/cases/C-missing", key=READER_KEY).status_code == 404
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/cases", key=READER_KEY, **params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"C-list-{n}" for n in range(5)]
    bad = api.get("/api/v1/cases", key=READER_KEY, cursor="%%%")
    assert bad.status_code == 422


# ---- detector proposals through the gates -------------------------------------------------------


def test_shadow_mode_records_without_posting(api: Api) -> None:
    response = api.post("/api/v1/proposals", submission(), key=DETECTOR_KEY)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["outcome"] == "shadow" and body["proposal"] is None
    assert "shadow mode" in body["reason"]
    assert count(api, ShadowRecordRow) == 1 and count(api, ProposalRow) == 0
    assert api.notified.cards == []
    cluster = api.store.get_cluster(body["cluster_id"])
    assert cluster.detector == "burstpost@2.1.0" and len(cluster.content_ids) == 3


def test_propose_mode_creates_a_pending_proposal_and_posts_its_card(api: Api) -> None:
    open_gate(api.store, api.gates)
    response = api.post("/api/v1/proposals", submission(4), key=DETECTOR_KEY)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "proposed"
    proposal = body["proposal"]
    assert proposal["status"] == "pending"
    assert proposal["requester_id"] == "detector:burstpost@2.1.0"
    assert len(proposal["actions"]) == 4
    assert body["blast_radius"]["content_count"] == 4
    assert body["channel"] == "#ts-integrity"
    assert any("same link" in e for e in proposal["evidence"])
    assert [c.proposal.id for c in api.notified.cards if c.proposal] == [proposal["id"]]
    read = api.get(f"/api/v1/proposals/{proposal['id']}", key=DETECTOR_KEY)
    assert read.status_code == 200 and read.json()["action_hash"] == proposal["action_hash"]
    listed = api.get("/api/v1/proposals", key=DETECTOR_KEY, status="pending").json()
    assert [p["id"] for p in listed["items"]] == [proposal["id"]]


def test_gate_is_per_section_and_detector(api: Api) -> None:
    open_gate(api.store, api.gates)
    beta = api.post(
        "/api/v1/proposals", submission(detector="burstpost-beta", prefix="b"), key=DETECTOR_KEY
    )
    assert beta.status_code == 202
    assert "detector burstpost-beta@2.1.0" in beta.json()["reason"]
    # burstpost's own limit on SP-2.1 is 10 actions, below the policy's 20
    big = api.post("/api/v1/proposals", submission(11, prefix="big"), key=DETECTOR_KEY)
    assert big.status_code == 422
    assert big.json()["detail"][0]["loc"] == ["body", "targets"]
    assert "maximum batch of 10" in big.json()["detail"][0]["msg"]
    assert count(api, ProposalRow) == 0 and count(api, ClusterRow) == 1


def test_gate_off_refuses_with_the_reason_and_stores_nothing(api: Api) -> None:
    response = api.post(
        "/api/v1/proposals",
        submission(section="CS-2.1", action="remove", prefix="cs"),
        key=DETECTOR_KEY,
    )
    assert response.status_code == 409
    assert "Automation is off for CS" in response.json()["detail"]
    assert stored_nothing(api)


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"section_id": "SP-9.9"}, ["body", "section_id"]),
        ({"section_id": "not a section"}, ["body", "section_id"]),
        ({"action": "delete_everything"}, ["body", "action"]),
        ({"action": "suspend"}, ["body", "action"]),
        ({"targets": []}, ["body", "targets"]),
        ({"description": "nul \x00 byte"}, ["body", "description"]),
        ({"detector": {"name": "x"}}, ["body", "detector", "version"]),
    ],
)
def test_bad_proposal_names_the_field_and_stores_nothing(
    api: Api, change: dict[str, Any], loc: list[Any]
) -> None:
    body = {**submission(), **change}
    response = api.post("/api/v1/proposals", body, key=DETECTOR_KEY)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["detail"]]
    assert stored_nothing(api)


def test_unknown_content_without_item_is_refused(api: Api) -> None:
    body = submission(2)
    del body["targets"][1]["item"]
    response = api.post("/api/v1/proposals", body, key=DETECTOR_KEY)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "targets", 1, "content_id"]
    assert stored_nothing(api)


def test_retried_submission_returns_the_first_proposal(api: Api) -> None:
    open_gate(api.store, api.gates)
    by_header = [
        api.post("/api/v1/proposals", submission(), key=DETECTOR_KEY, **{"Idempotency-Key": "r1"})
        for _ in range(3)
    ]
    assert [r.status_code for r in by_header] == [201, 201, 201]
    assert len({r.json()["proposal"]["id"] for r in by_header}) == 1
    own_id = submission(prefix="own", submission_id="det-run-77")
    by_id = [api.post("/api/v1/proposals", own_id, key=DETECTOR_KEY) for _ in range(2)]
    assert by_id[0].json() == by_id[1].json()
    assert count(api, ProposalRow) == 2
    assert len(api.notified.cards) == 2  # a replay posts no second card


# ---- appeals and decisions ------------------------------------------------------------------


def test_appeal_filed_through_the_api_then_read_with_the_decision(api: Api) -> None:
    from knowledge.catalogue import load_catalogue
    from tests.tools.test_appeals import _decide_removal
    from tests.tools.test_casework import load

    load(api.store)
    _decide_removal(api.store, load_catalogue())
    body = {"target": "c-ha", "reason": "it quoted the slur to condemn it"}
    assert api.post("/api/v1/appeals", body, key=READER_KEY).status_code == 403
    filed = api.post("/api/v1/appeals", body, **{"Idempotency-Key": "appeal-1"})
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert appeal["account_id"] == "acct-h" and appeal["outcome"] == "pending"
    again = api.post("/api/v1/appeals", body, **{"Idempotency-Key": "appeal-1"})
    assert again.status_code == 201 and again.json()["id"] == appeal["id"]
    assert api.post("/api/v1/appeals", body).status_code == 409  # one pending appeal per decision
    assert api.post("/api/v1/appeals", {"target": "case-none", "reason": "x"}).status_code == 404
    bad = api.post("/api/v1/appeals", {"target": "c-ha", "reason": ""})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "reason"
    read = api.get(f"/api/v1/appeals/{appeal['id']}", key=READER_KEY)
    assert read.status_code == 200 and read.json()["id"] == appeal["id"]
    assert api.get("/api/v1/appeals/apl_missing", key=READER_KEY).status_code == 404
    decision = api.get("/api/v1/cases/c-ha/decision", key=READER_KEY)
    assert decision.status_code == 200 and decision.json()["status"] == "appealed"


def test_concurrent_identical_submissions_store_one_case(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def submit(_: int) -> int:
        return api.post("/api/v1/cases", case_body("C-race", n_items=3), key=INTAKE_KEY).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(submit, range(8)))
    assert statuses == [200] * 7 + [201]
    assert count(api, CaseRow) == 1
