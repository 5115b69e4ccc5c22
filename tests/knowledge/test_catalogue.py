"""The policy catalogue: loading, validation errors that name file and field, lookups."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.catalogue import (
    Catalogue,
    Severity,
    check_against_documents,
    check_document,
    load_catalogue,
    render_rows,
)
from knowledge.vocabulary import LADDER, ActionType, Priority, RestrictionType
from warden.errors import NotFoundError, PolicyError
from warden.settings import PACKAGE_ROOT

CATALOGUE_DIR = PACKAGE_ROOT / "knowledge" / "catalogue"
POLICIES_DIR = PACKAGE_ROOT / "knowledge" / "policies"

MINIMAL: dict[str, Any] = {
    "id": "ZZ",
    "title": "Test Policy",
    "domain": "community",
    "version": "1",
    "document": "community/test-policy.md",
    "severity": "high",
    "critical_harm": False,
    "strikes": {
        "window_days": 90,
        "expiry_days": 90,
        "per_action": {"remove": 1, "strike": 1},
        "thresholds": {
            2: {"restriction": "limit_distribution", "days": 14},
            3: {"restriction": "suspend", "days": 30},
        },
    },
    "escalation": {
        "pod": "test-pod",
        "channel": "#test",
        "on_call_channel": "#oncall",
        "default_priority": "P2",
        "priority_rules": [{"when": "imminent_harm", "priority": "P0", "on_call": True}],
        "sla_minutes": {"P0": 15, "P2": 240},
    },
    "sections": {
        "ZZ-1": {"title": "Scope", "kind": "scope"},
        "ZZ-2.1": {
            "title": "Thing",
            "kind": "violation",
            "severity": "high",
            "allowed_actions": ["label", "remove", "strike"],
            "default_action": "remove",
            "automatable": True,
        },
        "ZZ-2.2": {
            "title": "Worse thing",
            "kind": "violation",
            "severity": "critical",
            "allowed_actions": ["remove", "suspend"],
            "default_action": "remove",
            "imminent_harm": True,
        },
    },
    "signal_rules": [
        {"signal": "thing", "op": ">=", "threshold": 0.9, "section": "ZZ-2.1", "action": "remove"}
    ],
}


def write(folder: Path, data: dict[str, Any], name: str = "test-policy.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: dict[str, Any]) -> str:
    write(tmp_path / "cat", data)
    with pytest.raises(PolicyError) as info:
        load_catalogue(tmp_path / "cat")
    return str(info.value)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(CATALOGUE_DIR)


def test_project_catalogue_loads_and_is_consistent(catalogue: Catalogue) -> None:
    assert len(catalogue.policies) >= 13
    for policy in catalogue.policies.values():
        for section in policy.sections.values():
            positions = [LADDER.index(a) for a in section.allowed_actions]
            assert positions == sorted(positions), section.id
            if section.default_action is not None:
                assert section.default_action in section.allowed_actions, section.id
    for rule in catalogue.signal_rules:
        assert catalogue.is_allowed(rule.section_id, rule.action)


def test_catalogue_agrees_with_documents(catalogue: Catalogue) -> None:
    assert check_against_documents(catalogue, POLICIES_DIR) == []


def test_minimal_file_loads(tmp_path: Path) -> None:
    write(tmp_path / "cat", MINIMAL)
    cat = load_catalogue(tmp_path / "cat")
    assert cat.allowed_actions("ZZ-2.1") == [ActionType.LABEL, ActionType.REMOVE, ActionType.STRIKE]
    assert cat.policy_of("ZZ-2.1").id == "ZZ"
    assert cat.automatable("ZZ-2.1") and not cat.automatable("ZZ-2.2")
    assert not cat.is_allowed("ZZ-2.1", ActionType.SUSPEND)
    thing = cat.section("ZZ-2.1")
    assert thing.strike_weight(ActionType.REMOVE) == thing.strike_weight(ActionType.STRIKE) == 1
    assert thing.strike_weight(ActionType.LABEL) == 0
    assert cat.section("ZZ-2.2").strikes == {ActionType.REMOVE: 1}
    assert cat.policy("ZZ").reviewers == ("test-pod",)
    assert cat.policy("ZZ").dsa.category == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    # A section without its own severity takes the policy's.
    assert cat.severity("ZZ-1") is Severity.HIGH


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "broken.yaml").write_text("id: ZZ\nsections: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"broken\.yaml: line \d+, column \d+: not valid YAML"):
        load_catalogue(folder)


def test_unknown_action_names_file_and_field(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["sections"]["ZZ-2.1"]["allowed_actions"] = ["label", "remove", "ban"]
    message = load_error(tmp_path, data)
    assert (
        "test-policy.yaml: sections.ZZ-2.1.allowed_actions[2]: 'ban' is not one of label, "
        "limit_distribution, remove, strike, suspend" in message
    )


def test_wrong_ladder_order_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["sections"]["ZZ-2.1"]["allowed_actions"] = ["remove", "label", "strike"]
    message = load_error(tmp_path, data)
    assert "test-policy.yaml: sections.ZZ-2.1.allowed_actions: must be in ladder order" in message


def test_default_action_must_be_allowed(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["sections"]["ZZ-2.2"]["default_action"] = "label"
    assert "sections.ZZ-2.2.default_action: 'label' is not allowed here" in load_error(
        tmp_path, data
    )


def test_signal_rule_with_unknown_section_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["signal_rules"][0]["section"] = "ZZ-9.9"
    message = load_error(tmp_path, data)
    assert "test-policy.yaml: signal_rules[0].section: 'ZZ-9.9' is not a section of ZZ" in message


def test_signal_rule_with_disallowed_action_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["signal_rules"][0]["action"] = "suspend"
    message = load_error(tmp_path, data)
    assert "signal_rules[0].action: 'suspend' is not allowed by ZZ-2.1" in message


def test_missing_field_and_exception_with_actions(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    del data["strikes"]["window_days"]
    data["sections"]["ZZ-1"]["allowed_actions"] = ["remove"]
    data["sections"]["ZZ-1"]["default_action"] = "remove"
    message = load_error(tmp_path, data)
    assert "strikes.window_days: is required" in message
    # Type errors are reported before semantic ones; fix the type error and look again.
    data["strikes"]["window_days"] = 90
    assert "sections.ZZ-1.allowed_actions: a scope section cannot carry actions" in load_error(
        tmp_path, data
    )


def test_sla_required_for_every_priority_in_use(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    del data["escalation"]["sla_minutes"]["P0"]
    assert "escalation.sla_minutes.P0: is required" in load_error(tmp_path, data)


def test_duplicate_policy_id_across_files(tmp_path: Path) -> None:
    write(tmp_path / "cat", MINIMAL, "a.yaml")
    write(tmp_path / "cat", MINIMAL, "b.yaml")
    with pytest.raises(PolicyError, match=r"b\.yaml: id: 'ZZ' is also defined in .*a\.yaml"):
        load_catalogue(tmp_path / "cat")


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    with pytest.raises(PolicyError, match="no catalogue files"):
        load_catalogue(tmp_path / "cat")


def test_reload_after_change(tmp_path: Path) -> None:
    path = write(tmp_path / "cat", MINIMAL)
    assert load_catalogue(tmp_path / "cat").policy("ZZ").version == "1"
    data = copy.deepcopy(MINIMAL)
    data["version"] = "22"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert load_catalogue(tmp_path / "cat").policy("ZZ").version == "22"


def test_unknown_ids_raise_not_found(catalogue: Catalogue) -> None:
    with pytest.raises(NotFoundError, match="Unknown policy 'QQ'"):
        catalogue.policy("QQ")
    with pytest.raises(NotFoundError, match=re.escape("Unknown policy section 'HA-9.9'")):
        catalogue.section("HA-9.9")


def test_match_signals_strongest_first(catalogue: Catalogue) -> None:
    matches = catalogue.match_signals({"hate": 0.95, "spam_score": 0.99, "unrelated": 1.0})
    assert matches, "expected hate and spam rules to fire"
    assert matches[0].policy_id == "HA" and matches[0].action is ActionType.REMOVE
    severities = [m.severity.rank for m in matches]
    assert severities == sorted(severities, reverse=True)
    assert catalogue.match_signals({"hate": 0.1}) == []


def test_threshold_ops(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["signal_rules"] = [
        {"signal": "s", "op": ">", "threshold": 0.5, "section": "ZZ-2.1", "action": "label"},
        {"signal": "s", "op": ">=", "threshold": 0.5, "section": "ZZ-2.1", "action": "remove"},
    ]
    write(tmp_path / "cat", data)
    cat = load_catalogue(tmp_path / "cat")
    assert [m.action for m in cat.match_signals({"s": 0.5})] == [ActionType.REMOVE]
    assert [m.action for m in cat.match_signals({"s": 0.6})] == [
        ActionType.REMOVE,
        ActionType.LABEL,
    ]


def test_route_imminent_and_default(tmp_path: Path) -> None:
    write(tmp_path / "cat", MINIMAL)
    cat = load_catalogue(tmp_path / "cat")
    normal = cat.route("ZZ", "ZZ-2.1", imminent=False)
    assert (normal.priority, normal.channel, normal.on_call, normal.sla_minutes) == (
        Priority.P2,
        "#test",
        False,
        240,
    )
    urgent = cat.route("ZZ", "ZZ-2.1", imminent=True)
    assert (urgent.priority, urgent.channel, urgent.on_call, urgent.sla_minutes) == (
        Priority.P0,
        "#oncall",
        True,
        15,
    )
    # A section flagged imminent_harm routes to on-call even if the caller forgot.
    assert cat.route("ZZ", "ZZ-2.2", imminent=False).on_call
    with pytest.raises(NotFoundError):
        cat.route("ZZ", "HA-2.1", imminent=False)


def test_child_safety_goes_to_on_call(catalogue: Catalogue) -> None:
    cs = [s for s in catalogue.sections_of("CS") if s.kind == "violation" and s.imminent_harm]
    assert cs
    route = catalogue.route("CS", cs[0].id, imminent=False)
    assert route.priority is Priority.P0 and route.on_call


def test_strike_policy_thresholds(catalogue: Catalogue) -> None:
    strikes = catalogue.strike_policy("HA")
    assert strikes.window_days == 90
    assert strikes.restriction_for(1) is None
    limit = strikes.restriction_for(2)
    assert limit is not None and limit.restriction is RestrictionType.LIMIT_DISTRIBUTION
    assert limit.days == 14
    suspend = strikes.restriction_for(5)
    assert suspend is not None and suspend.restriction is RestrictionType.SUSPEND
    assert strikes.crossed(2, 3) == suspend
    assert strikes.crossed(0, 1) is None
    assert strikes.crossed(1, 4) == suspend
    assert strikes.next_threshold(2) == (3, suspend)
    assert strikes.next_threshold(3) is None


def test_critical_harm_needs_two_approvers(catalogue: Catalogue) -> None:
    assert catalogue.policy("HA").required_approvals == 2
    assert catalogue.policy("SP").required_approvals == 1


def test_check_document_reports_missing_heading_and_version(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    source = POLICIES_DIR / "community" / "hateful-activities.md"
    text = source.read_text(encoding="utf-8")
    text = text.replace("### HA-2.6 ", "### ", 1).replace('version: "3"', 'version: "4"', 1)
    broken = tmp_path / "hateful-activities.md"
    broken.write_text(text, encoding="utf-8")
    problems = check_document(catalogue, broken)
    assert any("version is '4'" in p for p in problems)
    assert any("no heading for catalogue section HA-2.6" in p for p in problems)


def test_check_against_documents_finds_uncatalogued_section(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    copy_dir = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, copy_dir)
    doc = copy_dir / "community" / "hateful-activities.md"
    doc.write_text(
        doc.read_text(encoding="utf-8") + "\n### HA-2.7 Something new\n\nNew rule text.\n",
        encoding="utf-8",
    )
    problems = check_against_documents(catalogue, copy_dir)
    assert len(problems) == 1
    assert "hateful-activities.md: section HA-2.7 has no entry in" in problems[0]


def test_render_rows(catalogue: Catalogue) -> None:
    rows = render_rows(catalogue)
    assert {r["policy"] for r in rows} == set(catalogue.policies)
    ha = next(r for r in rows if r["policy"] == "HA")
    assert ha["critical_harm"] == "yes" and "3->suspend" in ha["strikes"]
    sections = render_rows(catalogue, "HA")
    assert [r["section"] for r in sections] == list(catalogue.policy("HA").sections)


def test_strikes_only_name_allowed_actions(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["sections"]["ZZ-2.2"]["strikes"] = {"strike": 2}
    data["sections"]["ZZ-2.1"]["strikes"] = {"remove": 0}
    message = load_error(tmp_path, data)
    assert "sections.ZZ-2.2.strikes.strike: 'strike' is not an allowed action here" in message
    assert "sections.ZZ-2.1.strikes.remove: must be at least 1" in message


def test_exceptions_carry_no_consequences(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["sections"]["ZZ-1"]["strikes"] = {"remove": 1}
    assert "a scope section cannot carry strikes or restrictions" in load_error(tmp_path, data)


def test_thresholds_need_a_restriction_and_never_soften(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["strikes"]["thresholds"] = {2: "suspend"}
    assert "strikes.thresholds[2]: must be a mapping of fields" in load_error(tmp_path, data)
    data["strikes"]["thresholds"] = {
        2: {"restriction": "suspend"},
        3: {"restriction": "suspend", "days": 7},
    }
    assert "never lead to a milder restriction" in load_error(tmp_path, data)
    data["strikes"]["thresholds"] = {
        2: {"restriction": "suspend", "days": 7},
        3: {"restriction": "limit_distribution", "days": 70},
    }
    assert "never lead to a milder restriction" in load_error(tmp_path, data)


def test_dsa_values_are_the_transparency_databases(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["dsa"] = {"category": "STATEMENT_CATEGORY_HATE", "specification": ["KEYWORD_NOPE"]}
    data["sections"]["ZZ-2.2"]["dsa"] = {
        "category": "STATEMENT_CATEGORY_VIOLENCE",
        "ground": "illegal",
    }
    message = load_error(tmp_path, data)
    assert "dsa.category: 'STATEMENT_CATEGORY_HATE' is not a Transparency Database" in message
    assert "dsa.specification[0]: 'KEYWORD_NOPE' is not a Transparency Database" in message
    assert "sections.ZZ-2.2.dsa: an illegal-content ground needs legal_ground" in message


def test_second_review_and_counts_from_are_checked(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["decisions"] = {"second_review": ["limit_distribution"]}
    assert "decisions.second_review[0]: 'limit_distribution' is allowed by no section" in (
        load_error(tmp_path, data)
    )
    data = copy.deepcopy(MINIMAL)
    data["strikes"]["counts_from"] = ["QQ"]
    assert "strikes.counts_from: no catalogue entry for QQ" in load_error(tmp_path, data)


def test_second_review_resolves_per_section(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["decisions"] = {"reviewers": ["reviewers-a"], "second_review": ["suspend"]}
    write(tmp_path / "cat", data)
    policy = load_catalogue(tmp_path / "cat").policy("ZZ")
    assert policy.reviewers == ("reviewers-a",)
    assert policy.decision_reviewers("ZZ-2.2", [ActionType.SUSPEND]) == 2
    assert policy.decision_reviewers("ZZ-2.2", [ActionType.REMOVE]) == 1
    assert policy.decision_reviewers("ZZ-2.1", [ActionType.REMOVE]) == 1


def test_project_consequences_follow_the_documents(catalogue: Catalogue) -> None:
    # HA-5: each removal adds a strike, HA-2.5 counts three, borderline never strikes.
    assert catalogue.section("HA-2.1").strike_weight(ActionType.REMOVE) == 1
    assert catalogue.section("HA-2.5").strike_weight(ActionType.REMOVE) == 3
    assert catalogue.section("HA-4").strikes == {}
    # CS-5: confirmed CS-2.1 suspends at once; GV-5: GV-2.1 removals add no strike.
    severe = catalogue.section("CS-2.1").on_violation
    assert severe is not None and severe.restriction is RestrictionType.SUSPEND
    assert severe.days is None
    assert catalogue.section("GV-2.1").strikes == {}
    for policy in catalogue.policies.values():
        for section in policy.sections.values():
            assert set(section.strikes) <= set(section.allowed_actions), section.id
            assert ActionType.LABEL not in section.strikes, section.id


def test_every_policy_routes_imminent_harm_to_p0_on_call(catalogue: Catalogue) -> None:
    for pid in catalogue.policies:
        route = catalogue.route(pid, None, imminent=True)
        assert (route.priority, route.on_call, route.channel) == (
            Priority.P0,
            True,
            catalogue.policy(pid).escalation.on_call_channel,
        ), pid


def test_policy_without_imminent_rule_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(MINIMAL)
    data["escalation"]["priority_rules"] = [{"when": "imminent_harm", "priority": "P1"}]
    data["escalation"]["sla_minutes"]["P1"] = 60
    message = load_error(tmp_path, data)
    assert "escalation.priority_rules: needs {when: imminent_harm, priority: P0" in message


def test_stricter_rule_wins_between_equal_sections(catalogue: Catalogue) -> None:
    # A passport scan scores high on the PII detector: the document rule (stricter threshold)
    # is more specific than the doxxing rule on the same signal.
    matches = catalogue.match_signals({"pii_detected": 0.97})
    assert [m.section_id for m in matches] == ["PV-2.3", "PV-2.1"]
    assert [m.section_id for m in catalogue.match_signals({"pii_detected": 0.85})] == ["PV-2.1"]


def test_check_against_documents_finds_duplicates_and_stale_versions(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    copy_dir = tmp_path / "policies"
    shutil.copytree(POLICIES_DIR, copy_dir)
    community = copy_dir / "community"
    # A second current HA document, and an "older" file that claims the current version.
    shutil.copy(community / "hateful-activities.md", community / "hate-copy.md")
    old = community / "hateful-activities.v2.md"
    old.write_text(
        old.read_text(encoding="utf-8").replace('version: "2"', 'version: "3"', 1),
        encoding="utf-8",
    )
    (community / "spam.md").unlink()
    problems = check_against_documents(catalogue, copy_dir)
    assert any("policy HA has several current documents" in p for p in problems)
    assert any("hateful-activities.v2.md: older-version file has version 3" in p for p in problems)
    assert any("policy SP has no current document" in p for p in problems)


def test_automatable_sections_have_a_detector_rule(catalogue: Catalogue) -> None:
    """Automation starts from a detector, so every automatable section has a signal rule."""
    with_rules = {rule.section_id for rule in catalogue.signal_rules}
    for policy in catalogue.policies.values():
        for section in policy.sections.values():
            if section.automatable:
                assert section.id in with_rules, section.id
