"""The real Slack app in HTTP mode (uvicorn on loopback) against the Web API stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.interface import (
    Citation,
    Decision,
    EscalationOpened,
    Intent,
    PolicyAnswer,
    ProposalOutcome,
    ProposalPending,
    Recommendation,
    Refusal,
    WardenRequest,
    WardenResponse,
)
from knowledge.vocabulary import ActionType, RestrictionType
from tools.models import FanoutProgress, ProposalStatus, StrikeEffect

SECRET = "test-signing-secret-0123456789"
APPROVERS = ["UAPPROVER1", "UAPPROVER2", "UAPPROVER3"]
REQUESTER = "UREQUESTER"
OUTSIDER = "UOUTSIDER"
CHANNEL = "CSAFETY01"
CLUSTER = "cl_test_symbols"
ONCALL_GROUP = "S0ONCALL01"
ONCALL = "UONCALL01"


def route_channels(catalogue: Any) -> dict[str, str]:
    """A channel id for every escalation channel the catalogue names (name -> id)."""
    names = sorted(
        {
            name.lstrip("#")
            for p in catalogue.policies.values()
            for name in (p.escalation.channel, p.escalation.on_call_channel)
        }
    )
    return {name: f"C{i:03d}{name.upper().replace('-', '')[:8]}" for i, name in enumerate(names)}


def citation(sid: str = "HA-2.1") -> Citation:
    return Citation(
        section_id=sid,
        title="Dehumanising comparisons",
        policy_id="HA",
        policy_version="3",
        source="knowledge/policies/community/hateful-activities.md",
        excerpt="Comparing a protected group to vermin violates this policy.",
    )


@dataclass
class ScriptedWarden:
    """A stand-in for agent.service.Warden: fixed answers, real proposals and a real fanout."""

    store: Any
    catalogue: Any
    requests: list[WardenRequest] = field(default_factory=list)
    resumes: list[Decision] = field(default_factory=list)
    answer_text: str = "Yes: comparing a group to rats is a dehumanising comparison (HA-2.1)."
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: WardenRequest) -> WardenResponse:
        with self.lock:
            self.requests.append(request)
        if request.intent == Intent.RECOMMEND:
            return Recommendation(
                case_id=request.case_id or "",
                policy_id="HA",
                policy_version="3",
                section_ids=["HA-2.1"],
                verdict="violating",
                severity="high",
                action=ActionType.REMOVE,
                strike_effects=[
                    StrikeEffect(
                        account_id="acct_1",
                        active_before=2,
                        added=1,
                        active_after=3,
                        window_days=90,
                        threshold_crossed=RestrictionType.SUSPEND,
                    )
                ],
                confidence=0.42,
                rationale="Signals match HA-2.1: the content compares a group to vermin.",
                citations=[citation()],
                mode="rules",
            )
        if request.intent == Intent.ESCALATE:
            from tools.escalations import open_escalation

            esc = open_escalation(
                self.store,
                self.catalogue,
                policy_id="HA",
                section_ids=["HA-2.1"],
                case_id=request.case_id,
                opened_by=request.user_id,
                summary="Case reported 3 times; rules matched HA-2.1. <!here> see evil.com",
                owner_id=None if "imminent" in request.text else "UOWNER1",
                imminent="imminent" in request.text,
            )
            return EscalationOpened(escalation=esc)
        if request.intent == Intent.PROPOSE:
            from tools.proposals import create_proposal

            created = create_proposal(
                self.store,
                self.catalogue,
                policy_id="HA",
                section_ids=["HA-2.1"],
                action=request.action or ActionType.REMOVE,
                targets=None,
                requester_id=request.user_id,
                case_id=None if request.cluster_id else request.case_id,
                cluster_id=request.cluster_id,
            )
            return ProposalPending(proposal=created.proposal, blast_radius=created.blast_radius)
        return PolicyAnswer(text=self.answer_text, citations=[citation()], mode="llm")

    def resume(
        self,
        thread_id: str,
        decision: Decision,
        progress: Callable[[FanoutProgress], None] | None = None,
    ) -> WardenResponse:
        with self.lock:
            self.resumes.append(decision)
        if decision.decision != "approve":
            status = {"reject": ProposalStatus.REJECTED, "expire": ProposalStatus.EXPIRED}
            return ProposalOutcome(
                proposal_id=decision.proposal_id,
                status=status[decision.decision],
                message=decision.reason or "",
            )
        from tools.fanout import execute
        from tools.gateway import LocalPlatform

        result = execute(
            self.store,
            LocalPlatform(self.store.engine),
            decision.proposal_id,
            catalogue=self.catalogue,
            progress=progress,
            batch_size=5,
        )
        if result.status != ProposalStatus.EXECUTED:
            return Refusal(reason=f"fanout ended {result.status}")
        return ProposalOutcome(
            proposal_id=decision.proposal_id,
            status=result.status,
            applied=result.applied,
            failed=result.failed,
        )


def load_cluster(store: Any, n: int = 12) -> None:
    """A case with `n` items by 4 authors, and a detector cluster over the same items."""
    from tools.cases import ClusterSpec, import_cases, put_cluster

    now = datetime.now(UTC)
    items = [
        {
            "id": f"pin_{i:03d}",
            "kind": "pin",
            "author_id": f"acct_{i % 4}",
            "text": f"symbol post {i} <!channel> visit evil.example.com",
        }
        for i in range(n)
    ]
    case = {
        "id": "C-9001",
        "opened_at": now.isoformat(),
        "items": items,
        "signals": {"hate_symbol": 0.97},
    }
    import_cases(store, [json.dumps(case)])
    with store.session() as s:
        put_cluster(
            s,
            ClusterSpec(
                id=CLUSTER,
                policy_id="HA",
                section_id="HA-2.1",
                detector="symbol-matcher",
                description="test cluster",
                created_at=now,
                content_ids=[it["id"] for it in items],
            ),
        )


@dataclass
class Harness:
    standin: Any
    app: Any
    server: Any
    driver: Any
    warden: ScriptedWarden
    store: Any

    def settle(self, timeout: float = 60.0) -> None:
        assert self.app.drain(timeout), "background jobs did not finish"

    def messages(self, channel: str = CHANNEL) -> list[dict[str, Any]]:
        return [
            m
            for (ch, _), m in sorted(self.standin.messages.items(), key=lambda kv: float(kv[0][1]))
            if ch == channel
        ]

    def card(self, pid: str) -> dict[str, Any]:
        post = self.app.runtime.ledger.post("proposal", pid)
        assert post is not None
        return dict(self.standin.messages[(post.channel, post.ts)])

    def ephemerals(self, user: str) -> list[str]:
        return [
            c.args.get("text", "")
            for c in self.standin.calls_to("chat.postEphemeral")
            if c.args.get("user") == user
        ]


def start_replica(store: Any, catalogue: Any, standin: Any) -> tuple[Any, Any, ScriptedWarden]:
    """One app replica (its own agent, worker pool and HTTP server) over a shared store."""
    from slackapp.app import build_app
    from slackapp.http import start_in_thread
    from warden.settings import Settings

    settings = Settings(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=standin.url,
        WARDEN_APPROVERS=[APPROVERS[2]],
        WARDEN_APPROVER_USERGROUP="S0APPROVERS",
    )
    warden = ScriptedWarden(store, catalogue)
    app = build_app(settings, warden=warden, store=store, progress_interval_s=0.0)
    return app, start_in_thread(app.asgi()), warden


@pytest.fixture
def harness(sqlite_store: Any, catalogue: Any) -> Iterator[Harness]:
    from slackapp.driver import SlackDriver
    from slackapp.standin import StandIn

    load_cluster(sqlite_store)
    standin = StandIn(
        usergroups={"S0APPROVERS": APPROVERS[:2], ONCALL_GROUP: [ONCALL]},
        group_handles={ONCALL_GROUP: "ts-oncall"},
        channels=route_channels(catalogue),
    ).start()
    app, server, warden = start_replica(sqlite_store, catalogue, standin)
    driver = SlackDriver(
        server.endpoint, SECRET, response_url_base=standin.url.replace("/api/", "/respond/")
    )
    try:
        yield Harness(standin, app, server, driver, warden, sqlite_store)
    finally:
        driver.close()
        server.stop()
        app.drain(30)
        app.close()
        standin.stop()
