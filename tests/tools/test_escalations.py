"""Escalations: routed by the catalogue, imminent harm to P0 on-call, SLA reminders exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import Priority
from tests.tools.helpers import NOW, two_author_case
from tools import audit
from tools.cases import import_cases
from tools.escalations import (
    RouteError,
    acknowledge,
    find_breaches,
    mark_reminded,
    open_escalation,
    reassign,
    resolve,
    sweep,
)
from tools.models import Escalation, EscalationStatus
from tools.store import Store
from warden.errors import InputError


def _open(store: Store, catalogue: Catalogue, **kw: object) -> Escalation:
    args: dict[str, object] = {
        "policy_id": "HA",
        "section_ids": ["HA-2.2"],
        "case_id": None,
        "opened_by": "U_SPEC",
        "summary": "slur in a comment, reporter is the target",
        "now": NOW,
    }
    args.update(kw)
    return open_escalation(store, catalogue, **args)  # type: ignore[arg-type]


def test_routing_by_policy_and_severity(store: Store, catalogue: Catalogue) -> None:
    import_cases(store, [two_author_case("case-1")])
    esc = _open(store, catalogue, case_id="case-1")
    route = catalogue.route("HA", "HA-2.2", imminent=False)
    assert (esc.priority, esc.channel, esc.pod, esc.on_call) == (
        route.priority,
        route.channel,
        route.pod,
        False,
    )
    assert esc.sla_due_at == NOW + timedelta(minutes=route.sla_minutes)
    assert store.get_case("case-1").status == "escalated"


def test_imminent_harm_goes_to_p0_on_call(store: Store, catalogue: Catalogue) -> None:
    flagged = _open(store, catalogue, section_ids=["HA-2.5"])  # section flagged imminent_harm
    said = _open(store, catalogue, section_ids=["HA-2.2"], imminent=True)
    for esc in (flagged, said):
        assert esc.priority == Priority.P0 and esc.on_call
        assert esc.channel == catalogue.policy("HA").escalation.on_call_channel


def test_failed_route_raises_and_opens_nothing(store: Store, catalogue: Catalogue) -> None:
    with pytest.raises(RouteError, match="ZZ"):
        _open(store, catalogue, policy_id="ZZ", section_ids=[])
    with pytest.raises(RouteError):
        _open(store, catalogue, section_ids=["SP-2.1"])  # a section of another policy
    with pytest.raises(InputError):
        _open(store, catalogue, summary="  ")
    from tools.escalations import list_escalations

    assert list_escalations(store) == []


def test_lifecycle_is_audited(store: Store, catalogue: Catalogue) -> None:
    esc = _open(store, catalogue)
    eid = esc.id
    acked = acknowledge(store, eid, user_id="U_POD1", now=NOW + timedelta(minutes=5))
    assert acked.status == EscalationStatus.ACKNOWLEDGED and acked.owner_id == "U_POD1"
    assert reassign(store, eid, owner_id="U_POD2", by="U_POD1").owner_id == "U_POD2"
    done = resolve(store, eid, by="U_POD2", resolution="removed, strike issued")
    assert done.status == EscalationStatus.RESOLVED
    with pytest.raises(InputError, match="resolved"):
        acknowledge(store, eid, user_id="U_POD1")
    verbs = [e.verb for e in audit.events(store, subject=f"escalation:{eid}")]
    assert verbs == [
        "escalation.opened",
        "escalation.acknowledge",
        "escalation.reassign",
        "escalation.resolve",
    ]


def test_breach_reminders_fire_once_per_level(store: Store, catalogue: Catalogue) -> None:
    esc = _open(store, catalogue)
    sla = esc.sla_due_at - esc.opened_at
    assert find_breaches(store, NOW + sla - timedelta(minutes=1)) == []
    at_1 = NOW + sla + timedelta(minutes=1)
    (reminder,) = find_breaches(store, at_1)
    assert reminder.level == 1 and reminder.overdue_minutes == 1
    assert mark_reminded(store, reminder.escalation_id, 1, now=at_1)
    assert not mark_reminded(store, reminder.escalation_id, 1, now=at_1)  # a second worker loses
    assert find_breaches(store, at_1 + timedelta(minutes=2)) == []
    at_2 = NOW + 2 * sla + timedelta(minutes=1)
    assert [r.level for r in sweep(store, at_2)] == [2]
    assert sweep(store, at_2) == []
    resolve(store, esc.id, by="U", resolution="handled", now=at_2)
    assert find_breaches(store, NOW + 10 * sla) == []
    reminders = [e for e in audit.events(store, verb="escalation.reminded")]
    assert [e.details["level"] for e in reminders] == [1, 2]
