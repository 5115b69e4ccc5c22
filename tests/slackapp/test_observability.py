"""/healthz, /readyz and /metrics on the real app, scraped after a demo-sized signed run.

The run: questions, a recommendation, an escalation, a proposal approved by two approvers and
executed, a second proposal left pending (conftest's scripted agent), and questions answered by
the real agent with a scripted chat model and a real retriever (model and retrieval series).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.openai_server import OpenAIStandIn
from tests.slackapp.conftest import (
    APPROVERS,
    CHANNEL,
    CLUSTER,
    REQUESTER,
    SECRET,
    ScriptedWarden,
    load_cluster,
)

REPO = Path(__file__).resolve().parents[2]
USER_ID = re.compile(r"\b[UW][A-Z0-9]{6,}\b")


@dataclass
class Site:
    standin: Any
    settings: Any
    store: Any
    apps: list[Any]
    servers: list[Any]

    def get(self, path: str, server: int = 0) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.servers[server].port}{path}", timeout=30)


@pytest.fixture
def site(tmp_path: Path, catalogue: Any) -> Iterator[Site]:
    from knowledge.index import ingest
    from slackapp.app import build_app
    from slackapp.http import start_in_thread
    from slackapp.standin import StandIn
    from tools.store import build_store
    from warden.settings import Settings

    policies = tmp_path / "policies"
    shutil.copytree(REPO / "knowledge" / "policies", policies)
    standin = StandIn(usergroups={"S0APPROVERS": APPROVERS[:2]}).start()
    with OpenAIStandIn() as endpoint:
        settings = Settings(
            WARDEN_HOME=tmp_path / "home",
            WARDEN_POLICIES_DIRS=[policies],
            WARDEN_DATABASE_URL=None,
            WARDEN_CHROMA_URL=None,
            WARDEN_EMBEDDINGS_URL=endpoint.base_url,
            WARDEN_EMBEDDINGS_MODEL="hash-16",
            OPENAI_BASE_URL=None,
            SLACK_BOT_TOKEN="xoxb-test-token",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=standin.url,
            WARDEN_APPROVERS=[APPROVERS[2]],
            WARDEN_APPROVER_USERGROUP="S0APPROVERS",
        )
        ingest(settings.policies_dirs, settings=settings)
        store = build_store(settings)
        load_cluster(store)
        scripted = build_app(
            settings, warden=ScriptedWarden(store, catalogue), store=store, progress_interval_s=0
        )
        made = Site(standin, settings, store, [scripted], [start_in_thread(scripted.asgi())])
        try:
            yield made
        finally:
            for server in made.servers:
                server.stop()
            for app in made.apps:
                app.drain(30)
                app.close()
            store.close()
            standin.stop()


def real_agent_replica(site: Site, catalogue: Any) -> Any:
    """A second replica whose agent is the real graph, with a scripted chat model."""
    from agent.service import build_warden
    from knowledge.retrieval import build_retriever
    from slackapp.app import build_app
    from slackapp.http import start_in_thread
    from tests.fakes.chat import ScriptedChatModel

    answer = {
        "answer": "Comparing a group to vermin is a dehumanising comparison [HA-2.1].",
        "cited_section_ids": ["HA-2.1"],
        "grounded": True,
    }
    model = ScriptedChatModel(script=[answer, answer], model_name="scripted-model")
    warden = build_warden(
        site.settings,
        model=model,
        store=site.store,
        catalogue=catalogue,
        retriever=build_retriever(site.settings),
    )
    app = build_app(site.settings, warden=warden, store=site.store)
    site.apps.append(app)
    site.servers.append(start_in_thread(app.asgi()))
    return app


def driver_for(site: Site, server: int) -> Any:
    from slackapp.driver import SlackDriver

    return SlackDriver(
        site.servers[server].endpoint,
        SECRET,
        response_url_base=site.standin.url.replace("/api/", "/respond/"),
    )


def proposal_card(site: Site) -> tuple[str, dict[str, Any]]:
    calls = [
        c for c in site.standin.calls_to("chat.postMessage") if "Proposal" in c.args.get("text", "")
    ]
    pid = str(calls[-1].args["text"].split()[1])
    post = site.apps[0].runtime.ledger.post("proposal", pid)
    return pid, dict(site.standin.messages[(post.channel, post.ts)])


def click(driver: Any, action_id: str, user: str, card: dict[str, Any]) -> None:
    value = next(
        el["value"]
        for b in card["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el["action_id"] == action_id
    )
    response = driver.click(action_id, value, user=user, channel=CHANNEL, message=card)
    assert response.status_code == 200


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    rows = [v for lab, v in found.get(name, []) if all(lab.get(k) == w for k, w in labels.items())]
    assert rows, f"no sample {name} {labels}; have {sorted(found)}"
    return sum(rows)


def test_metrics_after_a_demo_sized_run(site: Site, catalogue: Any) -> None:
    from slackapp.blocks import APPROVE

    before = samples(site.get("/metrics").text)
    driver = driver_for(site, 0)
    for question in ("is a rat meme hateful?", "what is a strike?", "can I remove spam?"):
        assert driver.command(f"ask {question}", user=REQUESTER, channel=CHANNEL).status_code == 200
    driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
    driver.command("escalate C-9001 coordinated", user=REQUESTER, channel=CHANNEL)
    driver.command(f"propose {CLUSTER} remove", user=REQUESTER, channel=CHANNEL)
    assert site.apps[0].drain(60)
    pid, card = proposal_card(site)
    click(driver, APPROVE, APPROVERS[0], card)
    assert site.apps[0].drain(60)
    click(driver, APPROVE, APPROVERS[2], card)
    assert site.apps[0].drain(60)
    driver.command(f"propose {CLUSTER} limit_distribution", user=REQUESTER, channel=CHANNEL)
    assert site.apps[0].drain(60)
    driver.close()

    real = real_agent_replica(site, catalogue)
    second = driver_for(site, 1)
    second.command("ask is comparing a group to rats hateful?", user=REQUESTER, channel=CHANNEL)
    assert real.drain(60)
    second.close()

    response = site.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        old = [
            v for lab, v in before.get(name, []) if all(lab.get(k) == w for k, w in labels.items())
        ]
        return value(after, name, **labels) - sum(old)

    assert grew("warden_slack_requests_total", kind="command") == 8
    assert grew("warden_slack_acks_total", kind="command", outcome="ok") == 8
    assert grew("warden_slack_ack_seconds_count", kind="command") == 8
    assert grew("warden_slack_requests_total", kind="block_actions") == 2
    assert grew("warden_agent_request_seconds_count", intent="ask") == 4
    assert grew("warden_model_calls_total", job="policy_answer", model="scripted-model") == 1
    assert grew("warden_model_tokens_total", model="scripted-model", direction="prompt") > 0
    assert grew("warden_model_call_seconds_count", job="policy_answer") == 1
    assert grew("warden_retrieval_seconds_count", mode="blend") >= 1  # the default mode
    assert grew("warden_fanout_actions_total", outcome="applied") == 12
    assert value(after, "warden_fanout_ledger_actions", status="applied") == 12
    assert value(after, "warden_fanout_lag_seconds") == 0
    assert value(after, "warden_webhook_outbox_events") >= 1  # the approval and its actions
    assert value(after, "warden_approvals_pending") == 1
    assert value(after, "warden_approvals_expiring", within="1h") == 0
    assert value(after, "warden_escalations_open", sla_state="within") == 1
    assert value(after, "warden_store_up") == 1

    # Labels hold vocabularies only: no user, channel, case, proposal or cluster ids.
    forbidden = {CHANNEL, "C-9001", CLUSTER, pid, *APPROVERS, REQUESTER}
    for name, rows in after.items():
        if not name.startswith("warden_"):
            continue
        for labels, _v in rows:
            for label_value in labels.values():
                assert label_value not in forbidden, (name, labels)
                assert not USER_ID.search(label_value), (name, labels)
    assert "rat" not in "".join(
        line for line in response.text.splitlines() if line.startswith("warden_")
    )


def test_gateway_errors_are_counted_by_kind() -> None:
    from knowledge.vocabulary import ActionType
    from tools.gateway import HttpGateway
    from tools.models import PlannedAction
    from warden.errors import GatewayError
    from warden.metrics import GATEWAY_ERRORS

    before = GATEWAY_ERRORS.labels(kind="unavailable")._value.get()
    gateway = HttpGateway(
        httpx.Client(base_url="http://127.0.0.1:9", timeout=2), max_attempts=2, sleep=lambda s: None
    )
    action = PlannedAction(
        target_type="content", target_id="pin_1", action=ActionType.REMOVE, section_id="HA-2.1"
    )
    with pytest.raises(GatewayError):
        gateway.apply(action, idempotency_key="k1", proposal_id="p1")
    assert GATEWAY_ERRORS.labels(kind="unavailable")._value.get() == before + 1


def test_healthz_and_readyz_on_the_http_server(site: Site) -> None:
    assert site.get("/healthz").text == "ok"
    ready = site.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert [line.split()[1] for line in ready.text.splitlines()] == [
        "database",
        "index",
        "slack.auth",
    ]
    # The probes need no Slack signature; everything else still does, and refusals are counted.
    refused = value(samples(site.get("/metrics").text), "warden_slack_refused_total")
    assert httpx.post(site.servers[0].endpoint, content=b"{}").status_code == 401
    assert value(samples(site.get("/metrics").text), "warden_slack_refused_total") == refused + 1


def test_readyz_names_what_is_down(site: Site) -> None:
    from slackapp.probes import Probes

    probes = Probes(
        site.settings.model_copy(update={"collection": "missing"}),
        site.store,
        site.apps[0].client,
        ttl_s=0,
    )
    failed = {c.name for c in probes.ready() if c.failed}
    assert failed == {"index"}
    site.standin.stop()
    failed = {c.name for c in probes.ready() if c.failed}
    assert failed == {"index", "slack.auth"}


def test_the_health_port_serves_the_probes_only(site: Site) -> None:
    from slackapp.http import start_in_thread
    from slackapp.probes import probes_only

    server = start_in_thread(probes_only(site.apps[0].probes()))
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/healthz").text == "ok"
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
        assert "warden_store_up 1.0" in httpx.get(f"{base}/metrics", timeout=30).text
        assert httpx.post(f"{base}/slack/events", content=b"{}").status_code == 404
    finally:
        server.stop()


def test_json_logs_of_a_request_carry_its_ids_and_latency_never_its_content(site: Site) -> None:
    import io
    import json
    import logging

    from warden.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(n) for n in ("slackapp.observe", "slackapp.conversation")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        driver = driver_for(site, 0)
        driver.command("ask is a rat meme hateful?", user=REQUESTER, channel=CHANNEL)
        driver.command("recommend C-9001", user=REQUESTER, channel=CHANNEL)
        assert site.apps[0].drain(60)
        driver.close()
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    acks = [r for r in records if r["msg"] == "slack request acked"]
    done = [r for r in records if r["msg"] == "agent request done"]
    assert len(acks) == 2 and len(done) == 2
    assert all(r["kind"] == "command" and r["outcome"] == "ok" for r in acks)
    assert all(isinstance(r["latency_ms"], float) for r in acks + done)
    ask = next(r for r in done if r["intent"] == "ask")
    recommend = next(r for r in done if r["intent"] == "recommend")
    assert recommend["case_id"] == "C-9001" and recommend["outcome"] == "Recommendation"
    assert ask["thread"].startswith(f"{CHANNEL}:")
    # The job carries the request id of the request that queued it.
    assert {r["request_id"] for r in done} == {r["request_id"] for r in acks}
    assert "rat meme" not in stream.getvalue()


def test_warden_serve_health_port_serves_the_probes(site: Site) -> None:
    """The real command: `warden serve --http --health-port N` answers the probes on N."""
    import os
    import socket
    import subprocess
    import sys
    import time

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    http_port, health_port = free_port(), free_port()
    settings = site.settings
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": str(settings.home),
        "HF_HUB_OFFLINE": "1",
        "WARDEN_HOME": str(settings.home),
        "WARDEN_POLICIES_DIRS": ",".join(str(p) for p in settings.policies_dirs),
        "WARDEN_EMBEDDINGS_URL": str(settings.embeddings_url),
        "WARDEN_EMBEDDINGS_MODEL": settings.embeddings_model,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": site.standin.url,
    }
    code = "from warden.cli import main; main()"
    args = ["serve", "--http", "--host", "127.0.0.1", "--port", str(http_port)]
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--health-port", str(health_port)],
        cwd=settings.home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and child.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{health_port}/readyz", timeout=10)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert ready is not None, "the health port never answered"
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"http://127.0.0.1:{health_port}/metrics", timeout=10).text
        assert "warden_store_up 1.0" in metrics
    finally:
        child.terminate()
        out, _ = child.communicate(timeout=30)
    assert f"/healthz, /readyz, /metrics on 127.0.0.1:{health_port}" in out


def test_socket_mode_requests_are_counted_as_the_adapter_dispatches_them(site: Site) -> None:
    """Socket Mode hands each envelope to `App.dispatch` (run_bolt_app): the same wrapper counts."""
    from slack_bolt.adapter.socket_mode.internals import run_bolt_app
    from slack_sdk.socket_mode.request import SocketModeRequest

    from warden.metrics import SLACK_ACKS

    before = SLACK_ACKS.labels(kind="event:app_home_opened", outcome="ok")._value.get()
    payload = {
        "type": "event_callback",
        "team_id": "T0WARDEN1",
        "event_id": "Ev0SOCKET1",
        "event": {"type": "app_home_opened", "user": REQUESTER, "tab": "home"},
    }
    request = SocketModeRequest(type="events_api", envelope_id="e1", payload=payload)
    assert run_bolt_app(site.apps[0].bolt, request).status == 200
    assert site.apps[0].drain(30)
    after = SLACK_ACKS.labels(kind="event:app_home_opened", outcome="ok")._value.get()
    assert after == before + 1
