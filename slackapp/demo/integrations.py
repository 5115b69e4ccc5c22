"""The demo's integrations: a detector that submits through the HTTP API (mounted on the app's
port, as `warden serve --http` mounts it) and the platform's webhook receiver, fed by the real
outbox deliverer. Keys and secrets are fresh random values for each run.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from typing import Any

import httpx
from pydantic import SecretStr

from slackapp.demo.world import Transcript, World

DETECTOR = {"name": "symbolmatch", "version": "4.0.2"}


class Integrations:
    """The API (with one detector key), the webhook receiver and the deliverer feeding it."""

    def __init__(self, slack: Any, warden: Any, store: Any, catalogue: Any, gates: Any) -> None:
        from api.app import build_api
        from slackapp.api_cards import SlackProposalNotifier
        from tools.outbox import Deliverer
        from tools.webhook_receiver import Receiver
        from warden.integrations import ApiKey, EventType, Scope, WebhookSubscriber

        self.key = secrets.token_urlsafe(32)
        secret = secrets.token_urlsafe(32)
        self.api = build_api(
            store=store,
            catalogue=catalogue,
            gates=gates,
            keys=[
                ApiKey(
                    name="symbolmatch",
                    key=SecretStr(self.key),
                    scopes=frozenset({Scope.PROPOSALS, Scope.READ}),
                )
            ],
            notifier=SlackProposalNotifier(slack.runtime, slack.client, warden),
        )
        self.store = store
        self.receiver = Receiver(secret).__enter__()
        self.subscriber = WebhookSubscriber(
            name="platform",
            url=self.receiver.url,
            secret=SecretStr(secret),
            events=frozenset(EventType),
        )
        self.deliverer = Deliverer(store, [self.subscriber], interval_s=0.2).start()
        self.base_url = ""

    def close(self) -> None:
        self.deliverer.stop()
        self.receiver.__exit__(None, None, None)


def submit_cluster(world: World, cluster_id: str) -> dict[str, Any]:
    """The detector posts the cluster's items with evidence to POST /api/v1/proposals."""
    t: Transcript = world.t
    hooks: Integrations = world.notes["integrations"]
    cluster = world.store.get_cluster(cluster_id)
    body = {
        "detector": DETECTOR,
        "submission_id": f"{DETECTOR['name']}-run-0417",
        "section_id": cluster.section_id,
        "action": "remove",
        "description": cluster.description,
        "targets": [
            {"content_id": cid, "evidence": "perceptual hash within 6 of the reference emblem"}
            for cid in cluster.content_ids
        ],
    }
    t.person(
        f"{DETECTOR['name']}@{DETECTOR['version']}",
        f"POST /api/v1/proposals (Bearer key 'symbolmatch'): {cluster.section_id} remove, "
        f"{len(body['targets'])} targets with evidence",
    )
    response = httpx.post(
        f"{hooks.base_url}/api/v1/proposals",
        json=body,
        headers={"Authorization": f"Bearer {hooks.key}"},
        timeout=60,
    )
    answer: dict[str, Any] = response.json()
    if response.status_code in (201, 202):
        proposal = answer.get("proposal") or {}
        t.say(
            f"    HTTP {response.status_code}: {answer['outcome']} · "
            f"{proposal.get('id', answer.get('shadow_id'))} · {answer['reason']}"
        )
        if answer["outcome"] == "proposed":
            t.say(f"    (note) the card goes to {answer['channel']}, the HA pod's channel")
    else:
        t.say(f"    HTTP {response.status_code}: {answer.get('detail')}")
    return answer


def show_webhooks(world: World, *, wait_s: float = 15.0) -> None:
    """What the platform's receiver got (every signature verified), once the outbox is drained."""
    from tools.outbox import status

    t = world.t
    hooks: Integrations = world.notes["integrations"]
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = status(world.store, [hooks.subscriber]).subscribers[0]
        if state.pending == 0 and state.retrying == 0:
            break
        time.sleep(0.2)
    got = hooks.receiver.unique()
    kinds = Counter(e["type"] for e in got)
    t.say(
        f"    {len(got)} events, every signature verified "
        f"({hooks.receiver.refused_signatures} refused): "
        + ", ".join(f"{kind} ×{n}" for kind, n in sorted(kinds.items()))
    )
    for kind in sorted(kinds):
        first = next(e for e in got if e["type"] == kind)
        data = first["data"]
        shown = {
            "id": first["id"],
            "type": kind,
            "subject": data.get("subject"),
            "actor": data.get("actor"),
            "proposal_id": data.get("proposal_id"),
        }
        t.say(f"    │ {json.dumps(shown)}")
