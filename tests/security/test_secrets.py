"""9. Secrets: every log record, audit row, statement of reasons, prompt, Slack message and report
these flows produce is scanned for the suite's distinctive fake tokens and signing secret.

Pass: 0 found. (The whole session's log file, child processes' logs included, is scanned again
when the session ends; see conftest.pytest_sessionfinish.)
"""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import pytest

from slackapp.blocks import APPROVE
from tests.security.conftest import (
    APPROVERS,
    BOT_TOKEN,
    CHANNEL,
    ENFORCEMENT_KEY,
    FAKE_SECRETS,
    OPENAI_KEY,
    REQUESTER,
    SIGNING_SECRET,
    Cluster,
    Figures,
    app_settings,
    pending_proposal,
    scan_for_secrets,
)


def _scan(figures: Figures, artefacts: dict[str, str]) -> None:
    for name, content in artefacts.items():
        figures.tried += 1
        found = scan_for_secrets(content)
        if found:
            figures.accepted += 1
            figures.note(f"{name} holds {len(found)} fake secret(s)")
        else:
            figures.rejected += 1


def _store_artefacts(store: Any) -> dict[str, str]:
    from tools import audit, reasons

    audit_out, reasons_out = io.StringIO(), io.StringIO()
    audit.export(store, audit_out)
    reasons.export(store, reasons_out)
    return {"audit rows": audit_out.getvalue(), "statements of reasons": reasons_out.getvalue()}


def test_the_slack_flow_leaks_no_secret(
    app_cluster: Cluster, figures: Figures, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = app_cluster
    # A proposal approved and executed through a signed click, a question, a 429, a forgery.
    proposal = pending_proposal(c.store, c.catalogue, n=4)
    card = c.post_card(proposal)
    message = {k: v for k, v in card.items() if k != "_ref"}
    c.standin.rate_limit("chat.update", times=1, retry_after=1)
    assert c.first.driver.click(
        APPROVE, card["_ref"], user=APPROVERS[0], channel=CHANNEL, message=message
    ).status_code == 200  # fmt: skip
    c.first.driver.mention("is a meme comparing people to rats allowed?", user=REQUESTER,
                           channel=CHANNEL)  # fmt: skip
    forged = c.first.driver.post_raw(
        b'{"type":"event_callback"}',
        {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(int(time.time())),
         "X-Slack-Signature": "v0=" + "0" * 64},
    )  # fmt: skip
    assert forged.status_code == 401
    c.settle()
    # A Web API error carries the request in its message: the token must not be in it.
    from slack_sdk.errors import SlackApiError

    try:
        c.first.app.client.api_call("no.such.method")
    except SlackApiError as exc:
        error_text = f"{exc!s} {exc!r} {exc.response.data!r}"
    else:
        error_text = ""
    from slackapp.cli import missing_message

    settings = app_settings(c.standin.url)
    calls = [{"method": x.method, "args": x.args} for x in c.standin.calls]
    artefacts = {
        "log records (DEBUG)": caplog.text,
        "Slack Web API calls (every argument)": json.dumps(calls, default=str),
        "Slack messages": json.dumps(list(c.standin.messages.values()), default=str),
        "Slack API error": error_text,
        "settings repr and dump": f"{settings!r} {settings.model_dump()!r}",
        "missing-settings message": missing_message(["SLACK_APP_TOKEN"], http=False),
        **_store_artefacts(c.store),
    }
    _scan(figures, artefacts)
    assert figures.accepted == 0, figures.notes


def test_the_model_and_enforcement_api_paths_leak_no_secret(
    sqlite_store: Any, catalogue: Any, figures: Figures, caplog: pytest.LogCaptureFixture
) -> None:
    from agent.drafts import RecommendationDraft
    from agent.llm import build_chat_model, structured_call
    from agent.recommend import case_messages
    from tests.fakes.enforcement_api import EnforcementApiStandIn, FaultPlan
    from tests.fakes.openai_server import OpenAIStandIn, Reply
    from tests.tools.fanout_child import seed_approved_proposal
    from tools.fanout import execute
    from tools.gateway import HttpGateway
    from warden.settings import Settings

    caplog.set_level(logging.DEBUG)
    draft = {
        "policy_id": "HA",
        "section_ids": ["HA-2.1"],
        "verdict": "violating",
        "action": "remove",
        "confidence": 0.8,
        "rationale": "r",
        "escalate": False,
    }
    with (
        OpenAIStandIn() as llm,
        EnforcementApiStandIn(token=ENFORCEMENT_KEY, faults=FaultPlan(rate=0.3, seed=2)) as api,
    ):
        settings = Settings(
            OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY=OPENAI_KEY, WARDEN_LLM_MAX_RETRIES=0,
            WARDEN_LLM_TIMEOUT=5, WARDEN_ENFORCEMENT_API_URL=api.url,
            WARDEN_ENFORCEMENT_API_KEY=ENFORCEMENT_KEY, SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
        )  # fmt: skip
        model = build_chat_model(settings)
        llm.enqueue(Reply(json_body=draft), Reply(status=401), Reply(status=500))
        from agent.deps import Deps
        from tools.models import Case, ContentItem

        item = ContentItem(id="s-1", author_id="acct-1", text="rats everywhere")
        case = Case(id="case-s-1", opened_at=time_now(), items=[item])
        deps = Deps(retriever=None, catalogue=catalogue, backend=None)  # type: ignore[arg-type]
        messages = case_messages(deps, case, [])
        replies = [structured_call(model, RecommendationDraft, messages, name="recommendation")
                   for _ in range(3)]  # fmt: skip
        problems = " ".join(str(r.problem) for r in replies)
        proposal = seed_approved_proposal(sqlite_store, catalogue, n=30)
        gateway = HttpGateway.from_settings(settings, timeout_s=2.0)
        gateway.backoff_s, gateway.max_attempts = 0.001, 20
        try:
            execute(sqlite_store, gateway, proposal.id, catalogue=catalogue, batch_size=10)
        except Exception as exc:  # a paused run is fine here; its message is scanned
            problems += f" {exc!s} {exc!r}"
        finally:
            gateway.close()
        prompts = json.dumps(llm.requests, ensure_ascii=False)
    artefacts = {
        "log records (DEBUG)": caplog.text,
        "prompts sent to the model": prompts,
        "model and gateway error messages": problems,
        **_store_artefacts(sqlite_store),
    }
    _scan(figures, artefacts)
    assert figures.accepted == 0, figures.notes
    assert all(s not in prompts for s in FAKE_SECRETS)


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_the_scan_finds_a_planted_secret(figures: Figures) -> None:
    """Control: a token that does reach a log record is found, for each of the fakes.

    The control logger does not propagate, so the planted records stay out of the session log
    that is scanned at the end.
    """
    buffer = io.StringIO()
    logger = logging.getLogger("tests.security.control")
    logger.propagate = False
    handler = logging.StreamHandler(buffer)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for secret in FAKE_SECRETS:
            logger.debug("header was %s", secret[:-1] + "?")
            logger.debug("Authorization: Bearer %s", secret)
    finally:
        logger.removeHandler(handler)
    found = scan_for_secrets(buffer.getvalue())
    figures.tried = len(FAKE_SECRETS)
    figures.note(f"control: {len(found)} of {len(FAKE_SECRETS)} planted secrets found")
    assert sorted(found) == sorted(FAKE_SECRETS)
