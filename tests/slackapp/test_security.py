"""Forged or malformed requests get 401 and reach no listener; retries run once; 429s wait."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from tests.slackapp.conftest import CHANNEL, REQUESTER, SECRET, Harness

BODY = json.dumps(
    {
        "type": "event_callback",
        "event_id": "EvFORGED1",
        "team_id": "T0WARDEN1",
        "event": {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.1", "channel": "C1"},
    }
).encode()


def _sign(body: bytes, ts: str, secret: str = SECRET) -> str:
    return str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body))


def _now() -> str:
    return str(int(time.time()))


def _cases() -> dict[str, dict[str, str]]:
    """Built when a test runs: a timestamp taken at import would drift while the suite runs."""
    now, past, future = _now(), str(int(time.time()) - 360), str(int(time.time()) + 360)
    return {
        "unsigned": {},
        "no timestamp": {"X-Slack-Signature": _sign(BODY, now)},
        "no signature": {"X-Slack-Request-Timestamp": now},
        "forged with another secret": {
            "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": _sign(BODY, now, "not-the-secret"),
        },
        "stale by six minutes": {
            "X-Slack-Request-Timestamp": past,
            "X-Slack-Signature": _sign(BODY, past),
        },
        "from the future": {
            "X-Slack-Request-Timestamp": future,
            "X-Slack-Signature": _sign(BODY, future),
        },
        "non-numeric timestamp": {
            "X-Slack-Request-Timestamp": "soon",
            "X-Slack-Signature": "v0=" + "a" * 64,
        },
        "huge timestamp": {
            "X-Slack-Request-Timestamp": "9" * 40,
            "X-Slack-Signature": "v0=" + "a" * 64,
        },
        "negative timestamp": {
            "X-Slack-Request-Timestamp": "-5",
            "X-Slack-Signature": "v0=" + "a" * 64,
        },
        "wrong version prefix": {
            "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": "v1=" + _sign(BODY, now)[3:],
        },
        "truncated signature": {
            "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": _sign(BODY, now)[:40],
        },
        "empty values": {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""},
    }


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES)
def test_bad_signatures_get_401_and_reach_no_listener(harness: Harness, case: str) -> None:
    headers = {"Content-Type": "application/json", **_cases()[case]}
    response = harness.driver.post_raw(BODY, headers)
    assert response.status_code == 401, response.text
    harness.settle()
    assert harness.warden.requests == []


def test_non_ascii_and_repeated_headers_get_401(harness: Harness) -> None:
    url = harness.server.endpoint
    ts = _now()
    good = _sign(BODY, ts)
    raw_headers = [
        [
            (b"x-slack-request-timestamp", ts.encode()),
            (b"x-slack-signature", "v0=é".encode() + b"a" * 62),
        ],
        [(b"x-slack-request-timestamp", b"\xff\xfe"), (b"x-slack-signature", good.encode())],
        [
            (b"x-slack-request-timestamp", ts.encode()),
            (b"x-slack-signature", good.encode()),
            (b"x-slack-signature", good.encode()),
        ],
    ]
    with httpx.Client() as client:
        for headers in raw_headers:
            response = client.post(
                url, content=BODY, headers=[(b"content-type", b"application/json"), *headers]
            )
            assert response.status_code == 401
    # A body changed after signing is a forgery too.
    response = harness.driver.post_raw(
        BODY + b" ",
        {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": good,
        },
    )
    assert response.status_code == 401
    harness.settle()
    assert harness.warden.requests == []


def test_a_well_signed_request_passes(harness: Harness) -> None:
    response = harness.driver.post(BODY, content_type="application/json")
    assert response.status_code == 200
    harness.settle()
    assert len(harness.warden.requests) == 1


def test_slack_retries_of_one_event_are_handled_once(harness: Harness) -> None:
    event = {
        "type": "app_mention",
        "user": REQUESTER,
        "text": "<@UWARDENBOT> is X allowed?",
        "ts": "1700.1",
        "channel": CHANNEL,
    }
    for retry in (None, 1, 2):
        response = harness.driver.event(event, event_id="EvRETRY0001", retry_num=retry)
        assert response.status_code == 200
    harness.settle()
    assert len(harness.warden.requests) == 1
    assert len([m for m in harness.messages() if m.get("thread_ts") == "1700.1"]) == 1


def test_the_dedupe_is_in_the_store_so_another_replica_agrees(harness: Harness) -> None:
    from slackapp.ledger import SlackLedger

    other_replica = SlackLedger(harness.store.engine)
    assert other_replica.first_delivery("EvSHARED01") is True
    event = {
        "type": "app_mention",
        "user": REQUESTER,
        "text": "hi",
        "ts": "1700.2",
        "channel": CHANNEL,
    }
    assert harness.driver.event(event, event_id="EvSHARED01").status_code == 200
    harness.settle()
    assert harness.warden.requests == []


def test_rate_limited_web_api_calls_wait_and_succeed(harness: Harness) -> None:
    harness.standin.rate_limit("chat.postMessage", times=1, retry_after=1)
    response, ts = harness.driver.mention("is X allowed?", user=REQUESTER, channel=CHANNEL)
    assert response.status_code == 200
    harness.settle()
    calls = harness.standin.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0  # Retry-After honoured
    assert len([m for m in harness.messages() if m.get("thread_ts") == ts]) == 1


def test_slack_tables_come_from_migration_0004(db_url: str) -> None:
    from slackapp.ledger import Post, SlackLedger
    from tools.store import Store

    store = Store.open(db_url)
    try:
        ledger = SlackLedger(store.engine)
        assert ledger.first_delivery("Ev1") and not ledger.first_delivery("Ev1")
        ledger.remember_post("proposal", "p1", Post("C1", "1.1", "C1:1.0", "{}"))
        ledger.remember_post("proposal", "p1", Post("C2", "2.2", "C2:2.0"))
        assert ledger.post("proposal", "p1") == Post("C1", "1.1", "C1:1.0", "{}")
    finally:
        store.close()


def test_bodies_that_are_not_utf8_or_not_json_never_get_500(harness: Harness) -> None:
    ts = _now()
    junk = b"\xff\xfe\x00garbage"
    forged = harness.driver.post_raw(
        junk,
        {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + "0" * 64,
        },
    )
    assert forged.status_code == 401
    for body in (junk, b"not json at all"):
        signed = harness.driver.post(body, content_type="application/json")
        assert signed.status_code == 400
    harness.settle()
    assert harness.warden.requests == []


def test_a_request_from_another_workspace_is_refused_and_audited(harness: Harness) -> None:
    from tools import audit

    event = {
        "type": "app_mention",
        "user": REQUESTER,
        "text": "hi",
        "ts": "1700.9",
        "channel": CHANNEL,
    }
    other = harness.driver.team_id
    harness.driver.team_id = "T0OTHERWS"
    try:
        assert harness.driver.event(event).status_code == 200
        assert (
            harness.driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL).status_code
            == 200
        )
    finally:
        harness.driver.team_id = other
    harness.settle()
    assert harness.warden.requests == []
    refused = [e for e in audit.events(harness.store) if e.verb == "slack.request"]
    assert len(refused) == 2 and all(e.outcome == "refused" for e in refused)
