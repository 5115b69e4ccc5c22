"""3. Secrets never reach Slack, the ledger or the terminal: passwords in URL settings, `?api-key=`
queries, upstream error bodies that echo the Authorization header, configured secret values.

Pass: 0 of the planted secrets in the card, the thread, the ledger, the audit trail, the
command line's error line and the gateway's messages (`warden.redact` at every boundary).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from slackapp.blocks import APPROVE
from tests.fakes.hostile_api import HostileApi, Reply, Request
from tests.security.conftest import (
    APPROVERS,
    BOT_TOKEN,
    CHANNEL,
    ENFORCEMENT_KEY,
    REQUESTER,
    Cluster,
    Figures,
    pending_proposal,
)
from tests.tools.fanout_child import seed_approved_proposal

URL_PASSWORD = "h14-url-PASSWORD-9f3e1c77"
QUERY_KEY = "h14-query-APIKEY-41d0b2aa"
EMBED_PASSWORD = "h14-embed-PASSWORD-77aa01"
PLANTED = (URL_PASSWORD, QUERY_KEY, EMBED_PASSWORD, ENFORCEMENT_KEY, BOT_TOKEN)


def _leaks(figures: Figures, artefacts: dict[str, str]) -> None:
    for name, text in artefacts.items():
        figures.tried += 1
        found = [s for s in PLANTED if s in text]
        if found:
            figures.accepted += 1
            figures.note(f"{name} holds {len(found)} planted secret(s)")
        else:
            figures.rejected += 1


def test_redact_strips_url_credentials_queries_headers_and_configured_values(
    figures: Figures,
) -> None:
    from warden.redact import redact, secrets_of
    from warden.settings import Settings

    settings = Settings(
        WARDEN_ENFORCEMENT_API_URL=f"https://warden:{URL_PASSWORD}@enforce.example/v1",
        WARDEN_EMBEDDINGS_URL=f"http://emb:{EMBED_PASSWORD}@10.0.0.5:8080/v1",
        WARDEN_ENFORCEMENT_API_KEY=ENFORCEMENT_KEY,
        SLACK_BOT_TOKEN=BOT_TOKEN,
    )
    secrets = secrets_of(settings)
    messages = {
        "URL userinfo": f"POST https://warden:{URL_PASSWORD}@enforce.example/v1/actions failed",
        "api-key query": f"GET http://emb.example/v1/embeddings?model=m&api-key={QUERY_KEY} 401",
        "token query": f"see https://x.example/cb?token={QUERY_KEY}&page=2",
        "echoed header": f'400 {{"echo": {{"Authorization": "Bearer {ENFORCEMENT_KEY}"}}}}',
        "header line": f"Authorization: Bearer {ENFORCEMENT_KEY}",
        "bare password": f"login refused for password {EMBED_PASSWORD}",
        "bare token": f"auth.test failed with {BOT_TOKEN}",
        "inline key=value": f"request api_key={QUERY_KEY} refused",
    }
    _leaks(figures, {name: redact(text, secrets) for name, text in messages.items()})
    # What people need stays readable: the host and the path.
    assert "enforce.example/v1/actions" in redact(messages["URL userinfo"], secrets)
    assert redact("https://policies.example/ha#2.1", secrets) == "https://policies.example/ha#2.1"
    assert figures.accepted == 0, figures.notes


def _echo_authorization(request: Request) -> Reply:
    # A hostile (or badly written) API echoing the request's headers in its error body.
    return Reply(status=400, body={"error": "bad request", "request_headers": request.headers})


def test_gateway_errors_and_the_ledger_hold_no_secret(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    from tools import audit
    from tools.fanout import execute, status
    from tools.gateway import HttpGateway
    from warden.settings import Settings

    artefacts: dict[str, str] = {}
    for name, script in {
        "upstream 400 echoing Authorization": _echo_authorization,
        "upstream 503": lambda r: Reply(status=503, body={"auth": r.headers.get("authorization")}),
    }.items():
        proposal = seed_approved_proposal(sqlite_store, catalogue, n=2)
        with HostileApi(script) as api:
            host = api.url.removeprefix("http://")
            settings = Settings(
                WARDEN_ENFORCEMENT_API_URL=f"http://warden:{URL_PASSWORD}@{host}/?api-key={QUERY_KEY}",
                WARDEN_ENFORCEMENT_API_KEY=ENFORCEMENT_KEY,
            )
            gateway = HttpGateway.from_settings(settings, timeout_s=5)
            gateway.batch_endpoint = False  # the single endpoint's 4xx path
            gateway.max_attempts, gateway.backoff_s = 2, 0.0
            try:
                execute(sqlite_store, gateway, proposal.id, catalogue=catalogue)
                error = ""
            except Exception as exc:
                error = f"{exc!s} {exc!r}"
            finally:
                gateway.close()
        ledger = status(sqlite_store, proposal.id)
        artefacts[f"{name}: error"] = error
        artefacts[f"{name}: ledger"] = json.dumps(ledger.model_dump(mode="json"))
        artefacts[f"{name}: proposal"] = sqlite_store.get_proposal(proposal.id).model_dump_json()
    out = io.StringIO()
    audit.export(sqlite_store, out)
    artefacts["audit trail"] = out.getvalue()
    _leaks(figures, artefacts)
    assert figures.accepted == 0, figures.notes


def test_secrets_in_agent_replies_and_execution_errors_never_reach_slack(
    app_cluster: Cluster, figures: Figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools import audit
    from warden.errors import GatewayError

    c = app_cluster
    leaky = (
        f"The enforcement API at http://warden:{URL_PASSWORD}@enforce.example/?api-key={QUERY_KEY} "
        f"answered 400: Authorization: Bearer {ENFORCEMENT_KEY} (bot {BOT_TOKEN})"
    )
    # A reply carrying upstream text, and an execution that fails with it.
    c.first.warden.answer_text = leaky
    c.first.driver.mention("what does HA-2.1 say?", user=REQUESTER, channel=CHANNEL)

    def failing_resume(*args: Any, **kwargs: Any) -> Any:
        raise GatewayError(leaky)

    monkeypatch.setattr(c.first.warden, "resume", failing_resume)
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    message = {k: v for k, v in card.items() if k != "_ref"}
    c.first.driver.click(APPROVE, card["_ref"], user=APPROVERS[0], channel=CHANNEL, message=message)
    c.settle()
    sent = [
        json.dumps(x.args, default=str)
        for x in c.standin.calls
        if x.method.startswith(("chat.", "views."))
    ]
    out = io.StringIO()
    audit.export(c.store, out)
    _leaks(
        figures,
        {"Slack messages and cards": "\n".join(sent), "audit trail": out.getvalue()},
    )
    assert any("enforce[.]example" in s for s in sent), "the failure was not shown at all"
    assert figures.accepted == 0, figures.notes


def test_the_command_line_error_line_holds_no_secret(
    figures: Figures, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from warden import cli
    from warden.errors import ConfigError
    from warden.settings import get_settings

    monkeypatch.setenv("WARDEN_ENFORCEMENT_API_KEY", ENFORCEMENT_KEY)
    monkeypatch.setenv("WARDEN_EMBEDDINGS_URL", f"http://emb:{EMBED_PASSWORD}@10.0.0.5/v1")
    get_settings.cache_clear()
    probe = typer.Typer(pretty_exceptions_enable=False)

    @probe.command()
    def fail() -> None:
        raise ConfigError(
            f"cannot reach http://emb:{EMBED_PASSWORD}@10.0.0.5/v1 ({ENFORCEMENT_KEY})"
        )

    monkeypatch.setattr(cli, "app", probe)
    monkeypatch.setattr(cli, "_register", lambda: None)
    monkeypatch.setattr("sys.argv", ["warden"])
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        get_settings.cache_clear()
    shown = capsys.readouterr().err
    _leaks(figures, {"CLI error line": shown})
    assert exited.value.code == 2 and "10.0.0.5" in shown
    assert figures.accepted == 0, figures.notes
