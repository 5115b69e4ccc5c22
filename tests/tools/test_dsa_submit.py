"""Filing statements with the Transparency Database: a loopback stand-in that answers as it does."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from knowledge.catalogue import Catalogue
from tests.fakes.dsa_server import TOKEN, DsaStandIn
from tests.tools.fanout_child import seed_approved_proposal
from tools import dsa
from tools.dsa_submit import ACCEPTED, REJECTED, rejections, submission_status, submit, unfiled
from tools.dsa_tables import DsaSubmissionRow
from tools.fanout import execute
from tools.gateway import LocalPlatform
from tools.store import Store
from tools.tables import StatementRow
from warden.errors import ConfigError, GatewayError

pytestmark = pytest.mark.timeout(120)


def _executed(store: Store, catalogue: Catalogue, n: int) -> None:
    # SP-2.1 removals add no strike: one statement per removed item, nothing else.
    proposal = seed_approved_proposal(store, catalogue, n=n, section_id="SP-2.1")
    execute(store, LocalPlatform(store.engine), proposal.id, catalogue=catalogue)


def _no_sleep(_: float) -> None:
    pass


def test_stand_in_refuses_like_the_database(sqlite_store: Store) -> None:
    with DsaStandIn() as api:
        bad = {"puid": "p-1", "automated_detection": True}
        answer = httpx.post(
            f"{api.url}/statements",
            json={"statements": [bad]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status_code == 422
        errors = answer.json()["errors"]["statement_0"]
        assert errors["decision_ground"] == ["The decision ground field is required."]
        assert errors["automated_detection"] == ["The selected automated detection is invalid."]
        single = httpx.post(
            f"{api.url}/statement", json=bad, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert single.status_code == 422 and "more errors" in single.json()["message"]
        assert httpx.post(f"{api.url}/statements", json={}).status_code == 401
        assert api.stored == {}


def test_every_statement_is_filed_once_and_recorded(store: Store, catalogue: Catalogue) -> None:
    _executed(store, catalogue, 130)
    with DsaStandIn() as api:
        report = submit(store, catalogue, url=api.url, token=TOKEN, sleep=_no_sleep)
        assert (report.accepted, report.rejected, report.requests) == (130, 0, 2)
        assert len(api.stored) == 130
        assert submission_status(store) == {ACCEPTED: 130}
        with store.session() as s:
            uuids = set(s.scalars(select(DsaSubmissionRow.uuid)))
        assert {f["uuid"] for f in api.stored.values()} == uuids
        # Nothing left to file: a second run sends nothing.
        again = submit(store, catalogue, url=api.url, token=TOKEN, sleep=_no_sleep)
        assert (again.accepted, again.requests) == (0, 0) and unfiled(store) == []


def test_a_lost_answer_is_repaired_by_the_puid_check_and_outages_are_retried(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    _executed(sqlite_store, catalogue, 30)
    # The first batch lands but its answer is lost; then an outage and a dropped connection.
    with DsaStandIn(faults=["500_after_store", "503", "reset", "429"]) as api:
        report = submit(
            sqlite_store, catalogue, url=api.url, token=TOKEN, batch_size=20, sleep=_no_sleep
        )
        assert len(api.stored) == 30  # none filed twice
        assert report.accepted + report.already_filed == 30 and report.already_filed == 20
        assert submission_status(sqlite_store) == {ACCEPTED: 30}


def test_a_statement_the_rules_refuse_is_recorded_not_sent_and_the_rest_filed(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    _executed(sqlite_store, catalogue, 5)
    with sqlite_store.session() as s:
        first = s.scalars(select(StatementRow).order_by(StatementRow.id)).first()
        assert first is not None
        broken = dict(first.data)
        broken["facts"] = "x" * 6000  # longer than the database takes
        s.execute(update(StatementRow).where(StatementRow.id == first.id).values(data=broken))
    with DsaStandIn() as api:
        report = submit(sqlite_store, catalogue, url=api.url, token=TOKEN, sleep=_no_sleep)
        assert (report.accepted, report.rejected) == (4, 1) and first.id not in api.stored
    ((puid, errors, _),) = rejections(sqlite_store)
    assert puid == first.id and "decision_facts" in errors
    assert submission_status(sqlite_store) == {ACCEPTED: 4, REJECTED: 1}


def test_the_databases_field_errors_are_recorded_and_the_batch_resent(
    sqlite_store: Store, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    _executed(sqlite_store, catalogue, 6)
    # Our local check passes something the database refuses (its rules changed, say).
    monkeypatch.setattr(dsa, "api_errors", lambda data: {})
    with sqlite_store.session() as s:
        first = s.scalars(select(StatementRow).order_by(StatementRow.id)).first()
        assert first is not None
        broken = dict(first.data, facts="x" * 5001)
        s.execute(update(StatementRow).where(StatementRow.id == first.id).values(data=broken))
    with DsaStandIn() as api:
        report = submit(sqlite_store, catalogue, url=api.url, token=TOKEN, sleep=_no_sleep)
        assert (report.accepted, report.rejected, report.requests) == (5, 1, 2)
        assert len(api.stored) == 5
    ((puid, errors, _),) = rejections(sqlite_store)
    assert puid == first.id and errors == {
        "decision_facts": ["The decision facts field must not be greater than 5000 characters."]
    }


def test_a_refused_token_and_a_lasting_outage_are_clear_errors(
    sqlite_store: Store, catalogue: Catalogue
) -> None:
    _executed(sqlite_store, catalogue, 2)
    with DsaStandIn() as api, pytest.raises(ConfigError, match="refused the token"):
        submit(sqlite_store, catalogue, url=api.url, token="wrong", sleep=_no_sleep)
    with (
        DsaStandIn(faults=["503"] * 10) as api,
        pytest.raises(GatewayError, match="run `warden reasons submit` again"),
    ):
        submit(sqlite_store, catalogue, url=api.url, token=TOKEN, max_attempts=3, sleep=_no_sleep)
    assert len(unfiled(sqlite_store)) == 2  # nothing recorded as filed


def test_export_and_submit_commands(
    sqlite_store: Store, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warden.cli
    from warden.settings import get_settings

    _executed(sqlite_store, catalogue, 3)
    monkeypatch.setenv(
        "WARDEN_DATABASE_URL", sqlite_store.engine.url.render_as_string(hide_password=False)
    )
    get_settings.cache_clear()
    try:
        if not any(c.name == "reasons" for c in warden.cli.app.registered_groups):
            warden.cli._register()
        runner = CliRunner()
        out = runner.invoke(warden.cli.app, ["reasons", "export", "--format", "dsa"])
        assert out.exit_code == 0, out.output
        assert "3 statements written; 3 of 3 pass" in out.output
        missing = runner.invoke(warden.cli.app, ["reasons", "submit"])
        assert missing.exit_code != 0 and isinstance(missing.exception, ConfigError)
        with DsaStandIn() as api:
            monkeypatch.setenv("WARDEN_DSA_API_URL", api.url)
            monkeypatch.setenv("WARDEN_DSA_API_TOKEN", TOKEN)
            get_settings.cache_clear()
            sent = runner.invoke(warden.cli.app, ["reasons", "submit"])
            assert sent.exit_code == 0, sent.output
            assert "3 accepted, 0 already filed, 0 rejected" in sent.output
            assert len(api.stored) == 3
    finally:
        get_settings.cache_clear()


def test_migration_matches_the_submissions_table(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    from tools.dsa_tables import DSA_TABLES

    ours = MetaData(naming_convention=DSA_TABLES[0].metadata.naming_convention)
    for table in DSA_TABLES:
        table.to_metadata(ours)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), ours)
    assert [d for d in diff if "dsa_submissions" in repr(d)] == []
