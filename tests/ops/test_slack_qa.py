"""QA review cards through a real Bolt app against the local Web API stand-in."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from slackapp.qa import (
    QA_AGREE,
    QA_DISAGREE,
    QA_REASON_BLOCK,
    QA_REASON_INPUT,
    post_samples,
    register,
)
from slackapp.standin import StandIn
from tools.qa import Decided, get_sample, maybe_sample
from tools.store import Store

SECRET = "qa-test-signing-secret"
CHANNEL = "C0QA00001"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Bolt:
    """A Bolt app with the QA listeners; requests are signed and dispatched in-process."""

    def __init__(self, store: Store, standin: StandIn) -> None:
        from slack_bolt import App
        from slack_sdk import WebClient

        self.client = WebClient(token="xoxb-qa-test", base_url=standin.url)
        self.app = App(
            client=self.client,
            signing_secret=SECRET,
            token_verification_enabled=False,
            process_before_response=True,
        )
        register(self.app, store=store)

    def interact(self, payload: dict[str, Any]) -> int:
        from slack_bolt.request import BoltRequest
        from slack_sdk.signature import SignatureVerifier

        body = urlencode({"payload": json.dumps(payload)})
        ts = str(int(time.time()))
        headers = {
            "content-type": ["application/x-www-form-urlencoded"],
            "x-slack-request-timestamp": [ts],
            "x-slack-signature": [
                SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
            ],
        }
        return self.app.dispatch(BoltRequest(body=body, headers=headers)).status


def element(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def click(bolt: Bolt, action_id: str, message: dict[str, Any], user: str) -> int:
    button = element(message, action_id)
    return bolt.interact(
        {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0WARDEN1"},
            "api_app_id": "AWARDEN01",
            "team": {"id": "T0WARDEN1"},
            "trigger_id": "trig-1",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL},
            "channel": {"id": CHANNEL},
            "message": message,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": button["value"],
                    "action_ts": "1.0",
                }
            ],
        }
    )


@pytest.fixture
def standin() -> Iterator[StandIn]:
    s = StandIn().start()
    try:
        yield s
    finally:
        s.stop()


def test_agree_and_disagree_cards(sqlite_ops_store: Store, standin: StandIn) -> None:
    store = sqlite_ops_store
    bolt = Bolt(store, standin)
    created = [
        maybe_sample(
            store,
            Decided(
                subject_type="case",
                subject_id=f"case-{i}",
                policy_id="HA",
                decision="approved: remove under HA-2.1",
                decided_by="U0DECIDER",
                decided_at=NOW,
                vendor_team="bpo-a",
            ),
            rate=1.0,
            now=NOW,
        )
        for i in range(2)
    ]
    assert all(created)
    assert post_samples(bolt.client, store, CHANNEL) == 2
    assert post_samples(bolt.client, store, CHANNEL) == 0  # already posted
    # Copies: the stand-in updates its messages in place, and a stale card can still be clicked.
    cards = sorted(standin.messages.items(), key=lambda kv: float(kv[0][1]))
    (_, first), (_, second) = (copy.deepcopy(c) for c in cards)
    by_card = {
        m["ts"]: json.loads(element(m, QA_AGREE)["value"])["sample_id"] for m in (first, second)
    }
    samples = [get_sample(store, by_card[first["ts"]]), get_sample(store, by_card[second["ts"]])]
    assert "QA review" in json.dumps(first["blocks"])

    # The decider cannot QA their own decision.
    assert click(bolt, QA_AGREE, first, "U0DECIDER") == 200
    assert get_sample(store, samples[0].id).agree is None
    assert any(
        "another reviewer" in c.args.get("text", "") for c in standin.calls_to("chat.postEphemeral")
    )

    assert click(bolt, QA_AGREE, first, "U0REVIEW1") == 200
    assert get_sample(store, samples[0].id).agree is True
    assert "Agreed" in json.dumps(standin.messages[(CHANNEL, first["ts"])]["blocks"])
    # A second click by someone else is refused; the first review stands.
    click(bolt, QA_AGREE, first, "U0REVIEW2")
    assert get_sample(store, samples[0].id).reviewer_id == "U0REVIEW1"

    # Disagree opens the reason modal; an empty reason is refused; a reason is recorded.
    assert click(bolt, QA_DISAGREE, second, "U0REVIEW1") == 200
    view = standin.calls_to("views.open")[-1].args["view"]
    view = json.loads(view) if isinstance(view, str) else view

    def submit(text: str) -> int:
        return bolt.interact(
            {
                "type": "view_submission",
                "user": {"id": "U0REVIEW1", "team_id": "T0WARDEN1"},
                "api_app_id": "AWARDEN01",
                "team": {"id": "T0WARDEN1"},
                "view": {
                    **view,
                    "id": "V1",
                    "state": {
                        "values": {
                            QA_REASON_BLOCK: {
                                QA_REASON_INPUT: {"type": "plain_text_input", "value": text}
                            }
                        }
                    },
                },
            }
        )

    assert submit("  ") == 200
    assert get_sample(store, samples[1].id).agree is None
    assert submit("Satire exception HA-3.3 applies") == 200
    reviewed = get_sample(store, samples[1].id)
    assert reviewed.agree is False and reviewed.reason == "Satire exception HA-3.3 applies"
    assert "Disagreed" in json.dumps(standin.messages[(CHANNEL, second["ts"])]["blocks"])
    # The reviewer is told what the disagreement opened (here: nothing was enforced).
    told = standin.calls_to("chat.postEphemeral")[-1].args
    assert told["user"] == "U0REVIEW1" and "nothing to reverse" in told["text"]


def test_qa_post_command(
    sqlite_ops_store: Store, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_ops_store
    from typer.testing import CliRunner

    import warden.cli
    from warden.settings import get_settings

    maybe_sample(
        store,
        Decided(
            subject_type="action",
            subject_id="content:p1:remove",
            policy_id="SP",
            decision="remove content p1 under SP-2",
            decided_by="U0DECIDER",
            decided_at=NOW,
        ),
        rate=1.0,
        now=NOW,
    )
    monkeypatch.setenv(
        "WARDEN_DATABASE_URL", store.engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-qa-test")
    monkeypatch.setenv("SLACK_API_URL", standin.url)
    get_settings.cache_clear()
    try:
        if not any(c.name == "qa" for c in warden.cli.app.registered_groups):
            warden.cli._register()
        result = CliRunner().invoke(warden.cli.app, ["qa", "post", "--channel", CHANNEL])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "1 QA cards posted" in result.output
    posted = standin.calls_to("chat.postMessage")
    assert len(posted) == 1 and "content:p1:remove" in json.dumps(posted[0].args)
