"""`warden doctor` against the local stand-ins: a demo-style set-up passes, each broken part fails.

Slack is `slackapp.standin` (scopes header, channels, user groups); the LLM and the embeddings
endpoint are `tests.fakes.openai_server`; the store is a real SQLite (or Postgres) database and
the index a real embedded Chroma built by `warden ingest`'s own code.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import OpenAIStandIn, Reply
from warden.doctor import Check, Status

REPO = Path(__file__).resolve().parents[2]
ONCALL, APPROVERS = "S0ONCALL01", "S0APPROVE1"
SECRET = "0123456789abcdef0123456789abcdef"


def routed_channel_names() -> list[str]:
    from knowledge.catalogue import load_catalogue

    names: set[str] = set()
    for policy in load_catalogue().policies.values():
        names |= {policy.escalation.channel, policy.escalation.on_call_channel}
    return sorted(names)


@dataclass
class Site:
    """A demo-style install: stand-in Slack, embeddings endpoint, SQLite, an ingested index."""

    standin: Any
    endpoint: OpenAIStandIn
    overrides: dict[str, Any]
    policies: Path

    def settings(self, **changes: Any) -> Any:
        from warden.settings import Settings

        return Settings(**{**self.overrides, **changes})

    def run(self, *, http: bool = True, **changes: Any) -> list[Check]:
        from warden import doctor

        return doctor.run(self.settings(**changes), http=http)

    def channel_id(self, name: str) -> str:
        return self.standin.channels[name.lstrip("#")]


def by_name(checks: list[Check], name: str) -> Check:
    found = [c for c in checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in checks]}"
    return found[0]


def failures(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks if c.failed}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    from knowledge.index import ingest
    from slackapp.standin import StandIn
    from tools.store import build_store

    channels = {
        name.lstrip("#"): f"C{i:08d}" for i, name in enumerate(routed_channel_names(), start=1)
    }
    standin = StandIn(
        channels=channels,
        usergroups={ONCALL: ["UONCALL1", "UONCALL2"], APPROVERS: ["UANA", "UBEN"]},
        group_handles={ONCALL: "ts-oncall", APPROVERS: "ts-approvers"},
    ).start()
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "knowledge" / "policies", policies)
    with OpenAIStandIn() as endpoint:
        overrides: dict[str, Any] = {
            "WARDEN_ENV": "development",
            "WARDEN_HOME": tmp_path / "home",
            "WARDEN_POLICIES_DIRS": [policies],
            "WARDEN_DATABASE_URL": None,
            "WARDEN_CHROMA_URL": None,
            "WARDEN_EMBEDDINGS_URL": endpoint.base_url,
            "WARDEN_EMBEDDINGS_MODEL": "hash-16",
            "OPENAI_BASE_URL": None,
            "SLACK_BOT_TOKEN": "xoxb-demo-local",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_APP_TOKEN": None,
            "SLACK_API_URL": standin.url,
            "WARDEN_APPROVERS": [],
            "WARDEN_APPROVER_USERGROUP": APPROVERS,
        }
        made = Site(standin, endpoint, overrides, policies)
        settings = made.settings()
        build_store(settings).close()
        ingest(settings.policies_dirs, settings=settings)
        try:
            yield made
        finally:
            standin.stop()


def test_the_demo_style_set_up_passes_every_check(site: Site) -> None:
    from warden import doctor

    checks = site.run()
    assert failures(checks) == {}, doctor.render(checks)
    names = [c.name for c in checks]
    for expected in (
        "secrets",
        "database",
        "migrations",
        "embeddings",
        "chroma",
        "index",
        "index.build",
        "index.current",
        "llm",
        "slack.auth",
        "slack.scopes",
        "slack.channels",
        f"slack.group {APPROVERS}",
        "slack.group ts-oncall",
    ):
        assert expected in names
    assert doctor.exit_code(checks) == 0
    assert "16 dimensions" in by_name(checks, "embeddings").detail
    assert "no-LLM" in by_name(checks, "llm").detail
    print("\n" + doctor.render(checks))


# ---------------------------------------------------------------------------- Slack


def test_a_wrong_bot_token_fails_auth_and_says_which_token(site: Site) -> None:
    checks = site.run(SLACK_BOT_TOKEN="not-a-bot-token")
    broken = failures(checks)
    assert "slack.auth" in broken
    assert "not_authed" in broken["slack.auth"].detail
    assert "Bot User OAuth Token" in broken["slack.auth"].fix


def test_missing_slack_settings_are_named(site: Site) -> None:
    checks = site.run(http=False)
    broken = failures(checks)
    assert "SLACK_APP_TOKEN" in broken["slack.settings"].detail


def test_an_unreachable_slack_api_fails_auth(site: Site) -> None:
    checks = site.run(SLACK_API_URL="http://127.0.0.1:9/api/")
    assert "slack.auth" in failures(checks)
    assert "reachable" in failures(checks)["slack.auth"].fix


def test_a_scope_missing_from_the_grant_is_named(site: Site) -> None:
    from slackapp.doctor import manifest_scopes

    site.standin.scopes = [s for s in manifest_scopes() if s != "usergroups:read"]
    broken = failures(site.run())
    assert "usergroups:read" in broken["slack.scopes"].detail
    assert "reinstall" in broken["slack.scopes"].fix


def test_a_routed_channel_that_does_not_exist_is_named_with_its_policies(site: Site) -> None:
    del site.standin.channels["ts-child-safety"]
    broken = failures(site.run())
    check = broken["slack.channel #ts-child-safety"]
    assert "does not exist" in check.detail and "CS" in check.detail
    assert "slack.channels" not in {c.name for c in site.run() if c.status == Status.OK}


def test_a_channel_the_bot_is_not_in_says_invite_it(site: Site) -> None:
    site.standin.not_member.add("ts-oncall")
    check = failures(site.run())["slack.channel #ts-oncall"]
    assert "not a member" in check.detail
    assert "/invite @Warden" in check.fix


def test_an_archived_channel_fails(site: Site) -> None:
    site.standin.archived.add("ts-integrity")
    assert "archived" in failures(site.run())["slack.channel #ts-integrity"].detail


def test_an_on_call_group_that_does_not_resolve_fails(site: Site) -> None:
    site.standin.group_handles[ONCALL] = "someone-else"
    check = failures(site.run())["slack.group ts-oncall"]
    assert "no user group" in check.detail and "on-call" in check.detail


def test_an_empty_on_call_group_fails(site: Site) -> None:
    site.standin.usergroups[ONCALL] = []
    assert "no members" in failures(site.run())["slack.group ts-oncall"].detail


def test_an_approver_group_given_by_handle_names_its_id(site: Site) -> None:
    check = failures(site.run(WARDEN_APPROVER_USERGROUP="ts-approvers"))["slack.group ts-approvers"]
    assert f"WARDEN_APPROVER_USERGROUP={APPROVERS}" in check.fix


def test_nobody_able_to_approve_fails(site: Site) -> None:
    broken = failures(site.run(WARDEN_APPROVER_USERGROUP=None, WARDEN_APPROVERS=[]))
    assert "nobody may approve" in broken["slack.approvers"].detail


# ---------------------------------------------------------------------------- LLM


def llm_check(site: Site, *replies: Reply) -> Check:
    from agent.doctor import llm_checks

    site.endpoint.enqueue(*replies)
    settings = site.settings(OPENAI_BASE_URL=site.endpoint.base_url, OPENAI_API_KEY="sk-test")
    [check] = llm_checks(settings)
    return check


def test_an_llm_that_answers_json_schema_passes(site: Site) -> None:
    check = llm_check(site, Reply(json_body={"ok": True}))
    assert check.status == Status.OK
    assert "json_schema structured output supported" in check.detail
    sent = site.endpoint.requests[-1]
    assert sent["response_format"]["type"] == "json_schema"


def test_an_llm_that_refuses_json_schema_but_answers_plainly_is_named(site: Site) -> None:
    check = llm_check(site, Reply(status=400), Reply(content="OK"))
    assert check.failed
    assert "refuses json_schema" in check.detail
    assert "response_format json_schema" in check.fix


def test_an_llm_that_ignores_the_schema_fails(site: Site) -> None:
    check = llm_check(site, Reply(content="Sure! Everything is fine."))
    assert check.failed and "ignores json_schema" in check.detail


def test_an_llm_with_a_bad_key_fails_with_the_settings_to_check(site: Site) -> None:
    check = llm_check(site, Reply(status=401))
    assert check.failed and "does not answer" in check.detail
    assert "OPENAI_API_KEY" in check.fix


def test_an_unreachable_llm_fails(site: Site) -> None:
    from agent.doctor import llm_checks

    [check] = llm_checks(site.settings(OPENAI_BASE_URL="http://127.0.0.1:9/v1"))
    assert check.failed and "does not answer" in check.detail


# ---------------------------------------------------------------------------- knowledge


def test_an_embeddings_endpoint_that_does_not_answer_fails(site: Site) -> None:
    broken = failures(site.run(WARDEN_EMBEDDINGS_URL="http://127.0.0.1:9/v1"))
    assert "embeddings" in broken
    assert "WARDEN_EMBEDDINGS_URL" in broken["embeddings"].fix


def test_an_unreachable_chroma_server_fails(site: Site) -> None:
    broken = failures(site.run(WARDEN_CHROMA_URL="http://127.0.0.1:9"))
    assert "chroma" in broken
    assert "index" not in {c.name for c in site.run(WARDEN_CHROMA_URL="http://127.0.0.1:9")}


def test_a_missing_index_says_ingest(site: Site) -> None:
    check = failures(site.run(WARDEN_COLLECTION="nothing-here"))["index"]
    assert "warden ingest" in check.fix


def test_an_index_built_with_another_embedder_fails(site: Site) -> None:
    check = failures(site.run(WARDEN_EMBEDDINGS_MODEL="another-model"))["index.build"]
    assert "'hash-16'" in check.detail and "another-model" in check.detail


def test_an_index_of_another_dimension_fails(site: Site) -> None:
    site.endpoint.embedding_dimensions = 8
    check = failures(site.run())["index.build"]
    assert "16 dimensions, the embedder 8" in check.detail


def test_an_index_from_an_older_chunker_says_reingest(site: Site) -> None:
    from knowledge.index import CHUNKER_KEY, build_chroma_client

    settings = site.settings()
    coll = build_chroma_client(settings).get_collection(settings.collection)
    metadata = {k: v for k, v in (coll.metadata or {}).items() if not k.startswith("hnsw:")}
    coll.modify(metadata={**metadata, CHUNKER_KEY: "0"})
    check = failures(site.run())["index.build"]
    assert "chunker version 0" in check.detail
    assert "warden ingest" in check.fix


def test_a_policy_edited_after_ingest_makes_the_index_stale(site: Site) -> None:
    doc = site.policies / "community" / "spam.md"
    doc.write_text(doc.read_text() + "\n\nA new paragraph the index has not seen yet.\n")
    check = failures(site.run())["index.current"]
    assert "changed since the last ingest" in check.detail
    assert f"warden ingest {site.policies}" in check.fix


def test_a_policy_removed_after_ingest_makes_the_index_stale(site: Site) -> None:
    (site.policies / "shopping" / "merchant-guidelines.md").unlink()
    shutil.rmtree(site.policies / "advertising")
    check = failures(site.run())["index.current"]
    assert "no longer in the folders" in check.detail


# ---------------------------------------------------------------------------- store, secrets


def test_an_unreachable_database_fails(site: Site) -> None:
    broken = failures(
        site.run(WARDEN_DATABASE_URL="postgresql://warden:hunter2@127.0.0.1:9/warden")
    )
    assert "does not answer" in broken["database"].detail
    assert "hunter2" not in broken["database"].detail  # never print the password


def test_a_database_behind_this_release_warns_and_one_ahead_fails(
    site: Site, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0004')"))
    check = by_name(site.run(WARDEN_DATABASE_URL=url), "migrations")
    assert check.status == Status.WARN and "0004" in check.detail
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'z999'"))
    check = by_name(site.run(WARDEN_DATABASE_URL=url), "migrations")
    assert check.failed and "newer Warden" in check.fix
    engine.dispose()


def test_a_current_postgres_store_passes(site: Site, pg_url: str) -> None:
    from tools.doctor import database_checks
    from tools.store import Store

    Store.open(pg_url).close()
    checks = database_checks(site.settings(WARDEN_DATABASE_URL=pg_url))
    assert [c.status for c in checks] == [Status.OK, Status.OK]


def test_placeholder_secrets_fail_only_in_production(site: Site) -> None:
    from warden.doctor import secrets_check

    dev = secrets_check(site.settings(SLACK_SIGNING_SECRET="changeme"), http=True)
    assert dev.status == Status.OK and "SLACK_SIGNING_SECRET" in dev.detail
    prod = secrets_check(
        site.settings(WARDEN_ENV="production", SLACK_SIGNING_SECRET="changeme"), http=True
    )
    assert prod.failed and "SLACK_SIGNING_SECRET" in prod.detail
    # The doctor applies the production refusals themselves (warden.production): strong,
    # generated values, a real enforcement API and an audit key pass.
    strong = {
        "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
        "SLACK_BOT_TOKEN": "xoxb-2048-99321-Qm7tRk2LpW9zXv4Ha",
        "WARDEN_ENFORCEMENT_API_URL": "https://enforcement.internal.example.net",
        "WARDEN_ENFORCEMENT_API_KEY": "ek_live_7Hq2Vd9Rm4Tx8Kp1Zb6N",
        "WARDEN_AUDIT_KEY": "b7e23ec29af22b0b4e41da31e868d572",
    }
    good = secrets_check(site.settings(WARDEN_ENV="production", **strong), http=True)
    assert good.status == Status.OK, good.detail
    weak = secrets_check(
        site.settings(
            WARDEN_ENV="production", **{**strong, "WARDEN_AUDIT_KEY": "aaaaaaaaaaaaaaaaaaaa"}
        ),
        http=True,
    )
    assert weak.failed and "WARDEN_AUDIT_KEY is low in entropy" in weak.detail
    missing_api = {k: v for k, v in strong.items() if not k.startswith("WARDEN_ENFORCEMENT")}
    no_api = secrets_check(site.settings(WARDEN_ENV="production", **missing_api), http=True)
    assert no_api.failed and "WARDEN_ENFORCEMENT_API_URL is not set" in no_api.detail


# ---------------------------------------------------------------------------- the command


def test_the_command_prints_one_line_per_check_and_exits_non_zero_when_broken(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from warden.cli import _register, app
    from warden.settings import get_settings

    for name, value in site.overrides.items():
        if value is None or value == []:
            monkeypatch.delenv(name, raising=False)
        else:
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            monkeypatch.setenv(name, text)
    get_settings.cache_clear()
    if not any(c.name == "doctor" for c in app.registered_commands):
        _register()
    runner = CliRunner()
    good = runner.invoke(app, ["doctor", "--http"])
    assert good.exit_code == 0, good.output
    assert "all " in good.output and "FAIL" not in good.output
    site.standin.not_member.add("ts-oncall")
    bad = runner.invoke(app, ["doctor", "--http"])
    assert bad.exit_code == 1
    assert "FAIL  slack.channel #ts-oncall" in bad.output
    assert "-> in #ts-oncall type `/invite @Warden`" in bad.output
    get_settings.cache_clear()
