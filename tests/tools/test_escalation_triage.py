"""Escalation triage: take, assign, acknowledge, priority, note, resolve, reopen; re-pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import Priority
from tests.tools.helpers import NOW
from tools.escalations import (
    acknowledge,
    add_note,
    at_slack_message,
    find_breaches,
    open_escalation,
    reassign,
    reopen,
    repage,
    resolve,
    set_priority,
    set_slack_message,
    take,
    timeline,
)
from tools.models import Escalation, EscalationStatus
from tools.store import Store
from warden.errors import InputError


def _open(store: Store, catalogue: Catalogue, *, imminent: bool = False) -> Escalation:
    return open_escalation(
        store,
        catalogue,
        policy_id="HA",
        section_ids=["HA-2.2"],
        case_id=None,
        opened_by="U_SPEC",
        summary="slur in a comment",
        imminent=imminent,
        now=NOW,
    )


def test_every_step_is_a_timeline_entry(store: Store, catalogue: Catalogue) -> None:
    esc = _open(store, catalogue)
    assert take(store, esc.id, user_id="U_POD1", now=NOW).owner_id == "U_POD1"
    assert reassign(store, esc.id, owner_id="U_POD2", by="U_POD1").owner_id == "U_POD2"
    acked = acknowledge(store, esc.id, user_id="U_POD2", now=NOW + timedelta(minutes=3))
    assert acked.status == EscalationStatus.ACKNOWLEDGED and acked.owner_id == "U_POD2"
    raised = set_priority(store, catalogue, esc.id, priority=Priority.P1, by="U_POD2", now=NOW)
    sla = catalogue.policy("HA").escalation.sla_minutes[Priority.P1]
    assert raised.priority == Priority.P1
    assert raised.sla_due_at == esc.opened_at + timedelta(minutes=sla)
    add_note(store, esc.id, by="U_POD2", text="reporter is the target; talked to them")
    done = resolve(
        store,
        esc.id,
        by="U_POD2",
        resolution="removed",
        remediation="strike issued",
        policy_gap=True,
    )
    assert done.status == EscalationStatus.RESOLVED and done.resolution == "removed"
    again = reopen(store, esc.id, by="U_POD1", reason="second report came in")
    assert again.status == EscalationStatus.OPEN and again.resolved_at is None
    steps = timeline(store, esc.id)
    assert [s.verb for s in steps] == [
        "opened",
        "take",
        "reassign",
        "acknowledge",
        "priority",
        "note",
        "resolve",
        "reopen",
    ]
    assert steps[4].details == {"from": "P2", "to": "P1"}
    assert steps[5].details["note"] == "reporter is the target; talked to them"
    assert steps[6].details == {
        "resolution": "removed",
        "policy_gap": True,
        "remediation": "strike issued",
    }
    assert steps[7].actor == "U_POD1"


def test_bad_steps_are_refused_and_change_nothing(store: Store, catalogue: Catalogue) -> None:
    esc = _open(store, catalogue)
    with pytest.raises(InputError, match="already P2"):
        set_priority(store, catalogue, esc.id, priority=Priority.P2, by="U")
    with pytest.raises(InputError, match="needs some text"):
        add_note(store, esc.id, by="U", text="   ")
    with pytest.raises(InputError, match="open; cannot reopen"):
        reopen(store, esc.id, by="U")
    resolve(store, esc.id, by="U", resolution="done")
    with pytest.raises(InputError, match="resolved; cannot take"):
        take(store, esc.id, user_id="U")
    # A note on a resolved ticket is still allowed: the timeline keeps growing.
    add_note(store, esc.id, by="U", text="follow-up: account appealed")
    assert [s.verb for s in timeline(store, esc.id)][-2:] == ["resolve", "note"]


def test_unacknowledged_p0_is_repaged_once_per_window(store: Store, catalogue: Catalogue) -> None:
    esc = _open(store, catalogue, imminent=True)
    assert esc.priority == Priority.P0
    window = catalogue.policy("HA").escalation.ack_minutes[Priority.P0]
    assert repage(store, catalogue, NOW + timedelta(minutes=window - 1)) == []
    (first,) = repage(store, catalogue, NOW + timedelta(minutes=window))
    assert first.round == 1 and first.escalation_id == esc.id
    assert repage(store, catalogue, NOW + timedelta(minutes=window + 1)) == []
    assert [r.round for r in repage(store, catalogue, NOW + timedelta(minutes=2 * window))] == [2]
    # Re-pages do not count as SLA reminders.
    sla = esc.sla_due_at - esc.opened_at
    assert [r.level for r in find_breaches(store, NOW + sla + timedelta(minutes=1))] == [1]
    acknowledge(store, esc.id, user_id="U_ONCALL", now=NOW + timedelta(minutes=2 * window))
    assert repage(store, catalogue, NOW + timedelta(minutes=3 * window)) == []


def test_card_location_finds_the_ticket(store: Store, catalogue: Catalogue) -> None:
    esc = _open(store, catalogue)
    set_slack_message(store, esc.id, channel="C1", ts="1.2")
    found = at_slack_message(store, channel="C1", ts="1.2")
    assert found is not None and found.id == esc.id
    assert at_slack_message(store, channel="C1", ts="9.9") is None


def test_cli_triage_acts_as_the_mapped_operator(
    warden_home: Path, monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue
) -> None:
    from tools.cli import register
    from tools.store import build_store
    from warden.settings import get_settings

    monkeypatch.setenv("LOGNAME", "dara")
    monkeypatch.setenv("WARDEN_OPERATORS", "dara=UDARA0001")
    get_settings.cache_clear()
    store = build_store(get_settings())
    esc = _open(store, catalogue)
    store.close()
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["escalations", *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    assert "owned by UDARA0001" in run("take", esc.id)
    assert "owned by UPOD00002" in run("assign", esc.id, "UPOD00002")
    assert "is P1" in run("priority", esc.id, "p1")
    assert "note added" in run("note", esc.id, "called the reporter")
    assert "policy gap recorded" in run(
        "resolve", esc.id, "--resolution", "removed", "--remediation", "strike", "--policy-gap"
    )
    assert "reopened" in run("reopen", esc.id, "--reason", "new report")
    bad = runner.invoke(app, ["escalations", "assign", esc.id, "not-a-user"])
    assert isinstance(bad.exception, InputError)
    store = build_store(get_settings())
    steps = timeline(store, esc.id)
    store.close()
    assert {s.actor for s in steps[1:]} == {"UDARA0001"}
    assert [s.verb for s in steps][-1] == "reopen"


def test_feedback_counts_per_prompt_version_and_latest_vote(store: Store) -> None:
    from tools.feedback import feedback_stats, record_answer, record_feedback
    from warden.errors import NotFoundError

    for where, prompt in (("C1:1.1", "p-3"), ("C1:2.2", "p-4")):
        record_answer(
            store,
            where=where,
            kind="answer",
            user_id="U1",
            thread_id="C1:1.1",
            prompt_version=prompt,
            model="m",
            now=NOW,
        )
    record_feedback(store, where="C1:1.1", user_id="U1", positive=False, now=NOW)
    record_feedback(store, where="C1:1.1", user_id="U1", positive=True, now=NOW)  # changed mind
    record_feedback(store, where="C1:1.1", user_id="U2", positive=False, now=NOW)
    record_feedback(store, where="C1:2.2", user_id="U1", positive=True, now=NOW)
    with pytest.raises(NotFoundError):
        record_feedback(store, where="C9:9.9", user_id="U1", positive=True, now=NOW)
    stats = feedback_stats(store, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1))
    assert (stats.answers, stats.good, stats.bad) == (2, 2, 1)
    assert [(r.prompt_version, r.good, r.bad) for r in stats.by_prompt] == [
        ("p-3", 1, 1),
        ("p-4", 1, 0),
    ]
