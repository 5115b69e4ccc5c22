"""The policy catalogue: structured, validated facts about every policy and section.

The policy documents say what a rule means; the catalogue says what may be done about it
(actions in ladder order, strikes, severity, escalation route, automation). Recommendations and
proposals are validated against it, so an action a section does not allow is impossible.

One YAML file per policy under `knowledge/catalogue/` (a new domain is new documents plus new
files here, no code). Every error names the file and the field. A file holds:

    id, title, domain, version, document   # document: path under the policies folder
    severity: critical | high | medium | low
    critical_harm: bool                     # automated and bulk proposals need two approvers
    decisions: {reviewers: [group, ...],    # who may decide a single case (default: the pod)
                second_review: [suspend]}   # actions a second, distinct reviewer must confirm
    strikes: {window_days, expiry_days,
              per_action: {remove: 1, strike: 1},   # strikes an applied action adds to the author
              thresholds: {2: {restriction: limit_distribution, days: 14},
                           3: {restriction: suspend, days: 30}},  # no days: until lifted
              counts_from: [GV]}            # other policies whose strikes count here too
    escalation: {pod, channel, on_call_channel, on_call_group, default_priority,
                 priority_rules: [{when: imminent_harm | <severity>, priority, on_call}],
                 sla_minutes: {P0: 15, ...}, ack_minutes: {P0: 5, ...}}
    appeals: {sla_hours}
    dsa: {category, specification: [KEYWORD_...], ground: incompatible | illegal,
          legal_ground, explanation}        # EU DSA statement of reasons; a section may override
    sections: {HA-2.1: {title, kind, severity, allowed_actions (ladder order), default_action,
                        strikes: {action: weight} (overrides per_action), on_violation:
                        {restriction, days} (one violation restricts the account), second_review,
                        automatable, imminent_harm, dsa}}
    signal_rules: [{signal, op: ">=" | ">", threshold, section, action}]
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from knowledge.parsing import split_front_matter
from knowledge.vocabulary import (
    DSA_CATEGORIES,
    DSA_KEYWORDS,
    LADDER,
    PRIORITY_ORDER,
    ActionType,
    Priority,
    RestrictionType,
    Severity,
)
from warden.errors import NotFoundError, PolicyError
from warden.settings import PACKAGE_ROOT, get_settings

SECTION_ID = re.compile(r"^[A-Z]{2,4}-\d+(?:\.\d+)*$")
POLICY_ID = re.compile(r"^[A-Z]{2,4}$")
# Older versions of a document live next to the current one as `<slug>.v<N>.md`.
OLDER_VERSION_FILE = re.compile(r"\.v\d+\.md$")
HEADING = re.compile(r"^(#{1,6})\s+(\S+)\s*(.*?)\s*#*\s*$")


class SectionKind(StrEnum):
    SCOPE = "scope"
    VIOLATION = "violation"
    EXCEPTION = "exception"
    BORDERLINE = "borderline"
    ENFORCEMENT = "enforcement"


# Only these kinds describe content that can be actioned; an exception never carries an action.
ACTIONABLE_KINDS = frozenset({SectionKind.VIOLATION, SectionKind.BORDERLINE})


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- file schema (what the YAML holds) -------------------------------------------------------


class RestrictionSpec(_Strict):
    """An account restriction and how long it lasts (no `days`: until it is lifted)."""

    restriction: RestrictionType
    days: int | None = Field(None, ge=1)

    def describe(self) -> str:
        what = self.restriction.value.replace("_", " ")
        return f"{what} for {self.days} days" if self.days else f"{what} until lifted"


class DsaSpec(_Strict):
    """How a decision under a section is reported to the EU DSA Transparency Database."""

    category: str = Field(description="STATEMENT_CATEGORY_* of the Transparency Database")
    specification: list[str] = Field(default_factory=list, description="KEYWORD_* values")
    ground: Literal["incompatible", "illegal"] = "incompatible"
    legal_ground: str | None = Field(None, max_length=500, description="when ground is illegal")
    explanation: str | None = Field(None, max_length=2000, description="when ground is illegal")


class SectionSpec(_Strict):
    title: str = Field(min_length=1)
    kind: SectionKind
    severity: Severity | None = None
    allowed_actions: list[ActionType] = Field(default_factory=list)
    default_action: ActionType | None = None
    strikes: dict[ActionType, int] | None = Field(
        None, description="action -> strikes it adds to the author; overrides strikes.per_action"
    )
    on_violation: RestrictionSpec | None = None
    second_review: list[ActionType] | None = None
    automatable: bool = False
    imminent_harm: bool = False
    dsa: DsaSpec | None = None


class StrikeSpec(_Strict):
    window_days: int = Field(ge=1)
    expiry_days: int = Field(ge=1)
    per_action: dict[ActionType, int] = Field(default_factory=dict)
    thresholds: dict[int, RestrictionSpec] = Field(default_factory=dict)
    counts_from: list[str] = Field(default_factory=list)


class DecisionSpec(_Strict):
    reviewers: list[str] = Field(default_factory=list)
    second_review: list[ActionType] = Field(default_factory=list)


class PriorityRule(_Strict):
    """`when` is `imminent_harm` or a severity tier (matches sections at least that severe)."""

    when: Literal["imminent_harm", "critical", "high", "medium", "low"]
    priority: Priority
    on_call: bool = False


class EscalationSpec(_Strict):
    pod: str = Field(min_length=1)
    channel: str = Field(min_length=2)
    on_call_channel: str = Field(min_length=2)
    on_call_group: str | None = Field(
        None, description="Slack user group (handle or id) paged for P0/P1 on this route"
    )
    default_priority: Priority
    priority_rules: list[PriorityRule] = Field(default_factory=list)
    sla_minutes: dict[Priority, int]
    ack_minutes: dict[Priority, int] = Field(
        default_factory=dict, description="owner must acknowledge within; else re-page on-call"
    )


class AppealSpec(_Strict):
    sla_hours: int = Field(72, ge=1)


class SignalRuleSpec(_Strict):
    signal: str = Field(min_length=1)
    op: Literal[">=", ">"] = ">="
    threshold: float = Field(ge=0.0, le=1.0)
    section: str
    action: ActionType


class PolicyFile(_Strict):
    id: str
    title: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    version: str = Field(min_length=1)
    document: str = Field(min_length=1, description="path of the current document, under policies")
    severity: Severity
    critical_harm: bool = False
    decisions: DecisionSpec = Field(default_factory=DecisionSpec)
    strikes: StrikeSpec
    escalation: EscalationSpec
    appeals: AppealSpec = Field(default_factory=AppealSpec)
    # Without a mapping, statements say what is always true: a breach of the terms.
    dsa: DsaSpec = Field(
        default_factory=lambda: DsaSpec(
            category="STATEMENT_CATEGORY_OTHER_VIOLATION_TC", specification=["KEYWORD_OTHER"]
        )
    )
    sections: dict[str, SectionSpec] = Field(min_length=1)
    signal_rules: list[SignalRuleSpec] = Field(default_factory=list)


# --- what callers use -------------------------------------------------------------------------


class StrikePolicy(_Strict):
    """How strikes count for one policy: rolling window, expiry, account-level thresholds."""

    window_days: int
    expiry_days: int
    thresholds: dict[int, RestrictionSpec]
    counts_from: tuple[str, ...] = Field(
        (), description="other policies whose active strikes count towards these thresholds"
    )

    def restriction_for(self, active_strikes: int) -> RestrictionSpec | None:
        """The account restriction a standing of `active_strikes` calls for, if any."""
        reached = [count for count in self.thresholds if count <= active_strikes]
        return self.thresholds[max(reached)] if reached else None

    def crossed(self, before: int, after: int) -> RestrictionSpec | None:
        """The most severe threshold newly reached going from `before` to `after` strikes."""
        newly = [count for count in self.thresholds if before < count <= after]
        return self.thresholds[max(newly)] if newly else None

    def next_threshold(self, active_strikes: int) -> tuple[int, RestrictionSpec] | None:
        upcoming = sorted(n for n in self.thresholds if n > active_strikes)
        return (upcoming[0], self.thresholds[upcoming[0]]) if upcoming else None


class SectionEntry(_Strict):
    id: str
    policy_id: str
    title: str
    kind: SectionKind
    severity: Severity
    allowed_actions: list[ActionType]
    default_action: ActionType | None
    strikes: dict[ActionType, int] = Field(
        description="strikes each action adds to the author's account (absent: none)"
    )
    on_violation: RestrictionSpec | None = Field(
        description="a severe section: one confirmed violation restricts the account at once"
    )
    second_review: frozenset[ActionType] = Field(
        description="actions whose decision a second, distinct reviewer must confirm"
    )
    automatable: bool
    imminent_harm: bool
    dsa: DsaSpec

    def strike_weight(self, action: ActionType) -> int:
        """Strikes applying `action` under this section adds to the author's account."""
        return self.strikes.get(action, 0)


class EscalationRoute(_Strict):
    policy_id: str
    section_id: str | None
    priority: Priority
    pod: str
    channel: str = Field(description="where the ticket is posted: the on-call channel when on_call")
    on_call: bool
    sla_minutes: int


class PolicyEntry(_Strict):
    id: str
    title: str
    domain: str
    version: str
    document: str
    severity: Severity
    critical_harm: bool
    reviewers: tuple[str, ...] = Field(description="groups whose members may decide its cases")
    strikes: StrikePolicy
    escalation: EscalationSpec
    appeals: AppealSpec
    dsa: DsaSpec
    sections: dict[str, SectionEntry]
    source: str = Field(description="catalogue file this entry came from")

    @property
    def required_approvals(self) -> int:
        """Critical-harm policies need two approvers for any automated or bulk proposal."""
        return 2 if self.critical_harm else 1

    def decision_reviewers(self, section_id: str, actions: list[ActionType]) -> int:
        """Distinct reviewers a specialist's decision needs: 2 when an action needs a second."""
        return 2 if set(actions) & self.sections[section_id].second_review else 1


class SignalRule(_Strict):
    policy_id: str
    signal: str
    op: Literal[">=", ">"]
    threshold: float
    section_id: str
    action: ActionType

    def matches(self, score: float) -> bool:
        return score >= self.threshold if self.op == ">=" else score > self.threshold


class SignalMatch(_Strict):
    """One signal rule that fired on a case's classifier scores."""

    signal: str
    score: float
    threshold: float
    policy_id: str
    section_id: str
    action: ActionType
    severity: Severity


class Catalogue(_Strict):
    policies: dict[str, PolicyEntry]
    signal_rules: list[SignalRule]
    _sections: dict[str, SectionEntry] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        for policy in self.policies.values():
            self._sections.update(policy.sections)

    def policy(self, policy_id: str) -> PolicyEntry:
        try:
            return self.policies[policy_id]
        except KeyError:
            known = ", ".join(sorted(self.policies))
            raise NotFoundError(
                f"Unknown policy {policy_id!r}; the catalogue has: {known}."
            ) from None

    def section(self, section_id: str) -> SectionEntry:
        try:
            return self._sections[section_id]
        except KeyError:
            prefix = section_id.split("-", 1)[0]
            hint = (
                f" Sections of {prefix}: {', '.join(self.policies[prefix].sections)}."
                if prefix in self.policies
                else f" Known policies: {', '.join(sorted(self.policies))}."
            )
            raise NotFoundError(f"Unknown policy section {section_id!r}.{hint}") from None

    def sections_of(self, policy_id: str) -> list[SectionEntry]:
        return list(self.policy(policy_id).sections.values())

    def policy_of(self, section_id: str) -> PolicyEntry:
        return self.policies[self.section(section_id).policy_id]

    def allowed_actions(self, section_id: str) -> list[ActionType]:
        """Actions this section allows, least to most severe."""
        return list(self.section(section_id).allowed_actions)

    def is_allowed(self, section_id: str, action: ActionType) -> bool:
        return action in self.section(section_id).allowed_actions

    def automatable(self, section_id: str) -> bool:
        return self.section(section_id).automatable

    def severity(self, section_id: str) -> Severity:
        return self.section(section_id).severity

    def match_signals(self, signals: dict[str, float]) -> list[SignalMatch]:
        """Every rule the scores trigger, strongest first.

        Order: section severity, then action on the ladder, then the rule's threshold (a rule
        with a stricter threshold is the more specific one), then the score.
        """
        found = [
            SignalMatch(
                signal=rule.signal,
                score=signals[rule.signal],
                threshold=rule.threshold,
                policy_id=rule.policy_id,
                section_id=rule.section_id,
                action=rule.action,
                severity=self._sections[rule.section_id].severity,
            )
            for rule in self.signal_rules
            if rule.signal in signals and rule.matches(signals[rule.signal])
        ]
        found.sort(
            key=lambda m: (
                m.severity.rank,
                LADDER.index(m.action),
                m.threshold,
                m.score,
            ),
            reverse=True,
        )
        return found

    def route(self, policy_id: str, section_id: str | None, *, imminent: bool) -> EscalationRoute:
        """Where an escalation goes: the highest priority any of the policy's rules gives it.

        A section flagged `imminent_harm` routes as imminent whatever the caller says, so a
        child-safety or credible-threat case cannot land in a normal queue by omission.
        """
        policy = self.policy(policy_id)
        section = None
        if section_id is not None:
            section = self.section(section_id)
            if section.policy_id != policy_id:
                raise NotFoundError(
                    f"Section {section_id!r} belongs to {section.policy_id}, not {policy_id}."
                )
        severity = section.severity if section else policy.severity
        imminent = imminent or bool(section and section.imminent_harm)
        spec = policy.escalation
        priority, on_call = spec.default_priority, False
        for rule in spec.priority_rules:
            applies = (
                imminent
                if rule.when == "imminent_harm"
                else severity.rank >= Severity(rule.when).rank
            )
            if not applies:
                continue
            if PRIORITY_ORDER.index(rule.priority) < PRIORITY_ORDER.index(priority):
                priority, on_call = rule.priority, rule.on_call
            elif rule.priority == priority:
                on_call = on_call or rule.on_call
        return EscalationRoute(
            policy_id=policy_id,
            section_id=section_id,
            priority=priority,
            pod=spec.pod,
            channel=spec.on_call_channel if on_call else spec.channel,
            on_call=on_call,
            sla_minutes=spec.sla_minutes[priority],
        )

    def strike_policy(self, policy_id: str) -> StrikePolicy:
        return self.policy(policy_id).strikes


# --- loading and validation -------------------------------------------------------------------


def _display(path: Path) -> str:
    """Show catalogue paths relative to the project, as specialists see them in the repo."""
    try:
        return str(path.resolve().relative_to(PACKAGE_ROOT))
    except ValueError:
        return str(path)


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: Any) -> str:
    if error["type"] == "enum":
        # pydantic says "'label', 'remove' or 'suspend'"; specialists read a plain list.
        allowed = error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        return f"{error['input']!r} is not one of {allowed}"
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "is not a known field (check the spelling)"
    if error["type"] == "model_type":
        return f"must be a mapping of fields, not {error['input']!r}"
    return str(error["msg"])


def _ladder_problem(actions: list[ActionType]) -> str | None:
    positions = [LADDER.index(a) for a in actions]
    if len(set(actions)) != len(actions):
        return "lists an action twice"
    if positions != sorted(positions):
        order = ", ".join(a.value for a in LADDER)
        given = ", ".join(a.value for a in actions)
        return f"must be in ladder order ({order}); got {given}"
    return None


def _semantic_problems(spec: PolicyFile) -> list[tuple[str, str]]:
    """Cross-field rules pydantic types cannot express; each is (field path, message)."""
    problems: list[tuple[str, str]] = []
    if not POLICY_ID.match(spec.id):
        problems.append(("id", f"{spec.id!r} must be 2-4 capital letters, e.g. HA"))
    for sid, section in spec.sections.items():
        at = f"sections.{sid}"
        if not SECTION_ID.match(sid) or not sid.startswith(f"{spec.id}-"):
            problems.append((at, f"section id must look like {spec.id}-2.1"))
        if section.kind in ACTIONABLE_KINDS:
            if section.severity is None:
                problems.append((f"{at}.severity", f"is required for a {section.kind} section"))
            if not section.allowed_actions and section.kind == SectionKind.VIOLATION:
                problems.append((f"{at}.allowed_actions", "a violation section needs actions"))
        elif section.allowed_actions or section.default_action or section.automatable:
            problems.append(
                (f"{at}.allowed_actions", f"a {section.kind} section cannot carry actions")
            )
        if problem := _ladder_problem(section.allowed_actions):
            problems.append((f"{at}.allowed_actions", problem))
        if section.default_action and section.default_action not in section.allowed_actions:
            allowed = ", ".join(a.value for a in section.allowed_actions) or "nothing"
            problems.append(
                (
                    f"{at}.default_action",
                    f"{section.default_action.value!r} is not allowed here (allowed: {allowed})",
                )
            )
        if section.allowed_actions and section.default_action is None:
            problems.append((f"{at}.default_action", "is required when actions are allowed"))
        problems.extend(_consequence_problems(at, section))
        if section.automatable and section.kind != SectionKind.VIOLATION:
            problems.append((f"{at}.automatable", "only violation sections may be automated"))
        if section.dsa is not None:
            problems.extend(_dsa_problems(f"{at}.dsa", section.dsa))
    problems.extend(_dsa_problems("dsa", spec.dsa))
    for i, action in enumerate(spec.decisions.second_review):
        if action not in _all_actions(spec):
            problems.append(
                (f"decisions.second_review[{i}]", f"{action.value!r} is allowed by no section")
            )
    for i, pid in enumerate(spec.strikes.counts_from):
        if not POLICY_ID.match(pid) or pid == spec.id:
            problems.append(
                (f"strikes.counts_from[{i}]", f"{pid!r} must be another policy id, e.g. GV")
            )
    for action, weight in spec.strikes.per_action.items():
        if weight < 1:
            problems.append((f"strikes.per_action.{action}", "must be at least 1 (omit: none)"))
    thresholds = spec.strikes.thresholds
    for count in thresholds:
        if count < 1:
            problems.append((f"strikes.thresholds.{count}", "strike counts start at 1"))
    steps = [thresholds[c] for c in sorted(thresholds)]
    if any(_milder(higher, lower) for lower, higher in itertools.pairwise(steps)):
        problems.append(
            ("strikes.thresholds", "more strikes must never lead to a milder restriction")
        )
    if spec.strikes.expiry_days < spec.strikes.window_days:
        problems.append(("strikes.expiry_days", "must be at least window_days"))
    escalation = spec.escalation
    # Imminent harm always reaches the top priority and a human on call, whatever the policy.
    imminent_rules = [r for r in escalation.priority_rules if r.when == "imminent_harm"]
    if not any(r.priority == Priority.P0 and r.on_call for r in imminent_rules):
        problems.append(
            (
                "escalation.priority_rules",
                "needs {when: imminent_harm, priority: P0, on_call: true}",
            )
        )
    used = {escalation.default_priority} | {r.priority for r in escalation.priority_rules}
    for priority in sorted(used - set(escalation.sla_minutes)):
        problems.append((f"escalation.sla_minutes.{priority}", "is required (priority in use)"))
    for field_name, windows in (
        ("sla_minutes", escalation.sla_minutes),
        ("ack_minutes", escalation.ack_minutes),
    ):
        for priority, minutes in windows.items():
            if minutes < 1:
                problems.append(
                    (f"escalation.{field_name}.{priority}", "must be at least 1 minute")
                )
    for i, rule in enumerate(spec.signal_rules):
        at = f"signal_rules[{i}]"
        target = spec.sections.get(rule.section)
        if target is None:
            problems.append((f"{at}.section", f"{rule.section!r} is not a section of {spec.id}"))
        elif target.kind not in ACTIONABLE_KINDS:
            problems.append((f"{at}.section", f"{rule.section!r} is a {target.kind} section"))
        elif rule.action not in target.allowed_actions:
            allowed = ", ".join(a.value for a in target.allowed_actions)
            problems.append(
                (
                    f"{at}.action",
                    f"{rule.action.value!r} is not allowed by {rule.section} (allowed: {allowed})",
                )
            )
    return problems


def _fail(path: Path, problems: list[tuple[str, str]]) -> PolicyError:
    shown = _display(path)
    return PolicyError("\n".join(f"{shown}: {field}: {message}" for field, message in problems))


def _milder(higher: RestrictionSpec, lower: RestrictionSpec) -> bool:
    """Whether `higher` (more strikes) restricts less than `lower`: a kind lower, or shorter."""
    if higher.restriction.rank != lower.restriction.rank:
        return higher.restriction.rank < lower.restriction.rank
    if lower.days is None:
        return higher.days is not None
    return higher.days is not None and higher.days < lower.days


def _all_actions(spec: PolicyFile) -> set[ActionType]:
    return {a for section in spec.sections.values() for a in section.allowed_actions}


def _consequence_problems(at: str, section: SectionSpec) -> list[tuple[str, str]]:
    """Strikes, severe restrictions and second review only name actions the section allows."""
    problems: list[tuple[str, str]] = []
    actionable = section.kind in ACTIONABLE_KINDS
    if not actionable and (section.strikes or section.on_violation or section.second_review):
        problems.append((at, f"a {section.kind} section cannot carry strikes or restrictions"))
        return problems
    for action, weight in (section.strikes or {}).items():
        if action not in section.allowed_actions:
            problems.append(
                (f"{at}.strikes.{action}", f"{action.value!r} is not an allowed action here")
            )
        if weight < 1:
            problems.append((f"{at}.strikes.{action}", "must be at least 1 (omit: no strike)"))
    for i, action in enumerate(section.second_review or []):
        if action not in section.allowed_actions:
            problems.append(
                (f"{at}.second_review[{i}]", f"{action.value!r} is not an allowed action here")
            )
    if section.on_violation is not None and section.kind != SectionKind.VIOLATION:
        problems.append((f"{at}.on_violation", "only a violation section restricts an account"))
    return problems


def _dsa_problems(at: str, dsa: DsaSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if dsa.category not in DSA_CATEGORIES:
        problems.append(
            (f"{at}.category", f"{dsa.category!r} is not a Transparency Database category")
        )
    for i, keyword in enumerate(dsa.specification):
        if keyword not in DSA_KEYWORDS:
            problems.append(
                (f"{at}.specification[{i}]", f"{keyword!r} is not a Transparency Database keyword")
            )
    if dsa.ground == "illegal" and not (dsa.legal_ground and dsa.explanation):
        problems.append((at, "an illegal-content ground needs legal_ground and explanation"))
    return problems


def _section_strikes(section: SectionSpec, strikes: StrikeSpec) -> dict[ActionType, int]:
    """Strikes each action adds: the section's own list, else the policy's for violations."""
    if section.strikes is not None:
        return dict(section.strikes)
    if section.kind != SectionKind.VIOLATION:
        return {}
    return {a: w for a, w in strikes.per_action.items() if a in section.allowed_actions}


def load_policy_file(path: Path) -> tuple[PolicyEntry, list[SignalRule]]:
    """Parse and validate one catalogue file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(top level)"
        reason = getattr(exc, "problem", None) or str(exc)
        raise _fail(path, [(where, f"not valid YAML: {reason}")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, [("(file)", f"cannot be read: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise _fail(path, [("(top level)", "must be a mapping of fields (id, title, ...)")])
    try:
        spec = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        raise _fail(path, [(_loc(e["loc"]), _describe(e)) for e in exc.errors()]) from exc
    if problems := _semantic_problems(spec):
        raise _fail(path, problems)
    sections = {
        sid: SectionEntry(
            id=sid,
            policy_id=spec.id,
            title=s.title,
            kind=s.kind,
            severity=s.severity or spec.severity,
            allowed_actions=s.allowed_actions,
            default_action=s.default_action,
            strikes=_section_strikes(s, spec.strikes),
            on_violation=s.on_violation,
            second_review=frozenset(
                spec.decisions.second_review if s.second_review is None else s.second_review
            )
            & frozenset(s.allowed_actions),
            automatable=s.automatable,
            imminent_harm=s.imminent_harm,
            dsa=s.dsa or spec.dsa,
        )
        for sid, s in spec.sections.items()
    }
    entry = PolicyEntry(
        id=spec.id,
        title=spec.title,
        domain=spec.domain,
        version=spec.version,
        document=spec.document,
        severity=spec.severity,
        critical_harm=spec.critical_harm,
        reviewers=tuple(spec.decisions.reviewers or [spec.escalation.pod]),
        strikes=StrikePolicy(
            window_days=spec.strikes.window_days,
            expiry_days=spec.strikes.expiry_days,
            thresholds=spec.strikes.thresholds,
            counts_from=tuple(spec.strikes.counts_from),
        ),
        escalation=spec.escalation,
        appeals=spec.appeals,
        dsa=spec.dsa,
        sections=sections,
        source=_display(path),
    )
    rules = [
        SignalRule(
            policy_id=spec.id,
            signal=r.signal,
            op=r.op,
            threshold=r.threshold,
            section_id=r.section,
            action=r.action,
        )
        for r in spec.signal_rules
    ]
    return entry, rules


_CACHE: dict[tuple[Path, tuple[tuple[str, int, int], ...]], Catalogue] = {}


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load every `*.yaml` under the catalogue folder; reloads when a file changes."""
    if path is None:
        path = get_settings().catalogue_dir
    folder = path.resolve()
    if not folder.is_dir():
        raise PolicyError(f"{_display(folder)}: catalogue folder does not exist")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise PolicyError(f"{_display(folder)}: no catalogue files (*.yaml) found")
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    cached = _CACHE.get((folder, stamp))
    if cached is not None:
        return cached
    policies: dict[str, PolicyEntry] = {}
    rules: list[SignalRule] = []
    owner_of: dict[str, str] = {}
    for file in files:
        entry, file_rules = load_policy_file(file)
        if entry.id in policies:
            raise _fail(
                file, [("id", f"{entry.id!r} is also defined in {policies[entry.id].source}")]
            )
        for sid in entry.sections:
            if sid in owner_of:
                raise _fail(file, [(f"sections.{sid}", f"also defined in {owner_of[sid]}")])
            owner_of[sid] = entry.source
        policies[entry.id] = entry
        rules.extend(file_rules)
    for entry in policies.values():
        unknown = [pid for pid in entry.strikes.counts_from if pid not in policies]
        if unknown:
            raise _fail(
                folder / Path(entry.source).name,
                [("strikes.counts_from", f"no catalogue entry for {', '.join(unknown)}")],
            )
    catalogue = Catalogue(policies=policies, signal_rules=rules)
    _CACHE.clear()
    _CACHE[(folder, stamp)] = catalogue
    return catalogue


# --- documents ----------------------------------------------------------------------------------


class PolicyFrontMatter(_Strict):
    """Stricter than ingestion's front matter: Warden's own documents must match this exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    id: str = Field(pattern=POLICY_ID.pattern)
    title: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    version: str = Field(pattern=r"^\d+(\.\d+)*$")
    effective: date
    owner: str = Field(min_length=1)
    supersedes: str | None = None
    url: str | None = Field(None, description="where people read the published policy")


def _split(path: Path) -> tuple[PolicyFrontMatter, str]:
    # Ingestion's splitter, so both sides agree on where the front matter ends.
    source = _display(path)
    loose, body = split_front_matter(path.read_text(encoding="utf-8"), Path(source))
    if loose is None:
        raise PolicyError(f"{source}: front matter: missing (the file must start with '---')")
    try:
        return PolicyFrontMatter.model_validate(loose.model_dump(exclude_none=True)), body
    except ValidationError as exc:
        details = "; ".join(f"{_loc(e['loc'])}: {_describe(e)}" for e in exc.errors())
        raise PolicyError(f"{source}: front matter: {details}") from exc


def read_front_matter(path: Path) -> PolicyFrontMatter:
    """Read and validate a policy document's front matter."""
    return _split(path)[0]


def document_section_ids(path: Path) -> dict[str, str]:
    """Section id -> title for every heading whose first token is a section id."""
    _, body = _split(path)
    found: dict[str, str] = {}
    for line in body.splitlines():
        match = HEADING.match(line)
        if match and SECTION_ID.match(match.group(2)):
            found[match.group(2)] = match.group(3)
    return found


def check_document(catalogue: Catalogue, path: Path) -> list[str]:
    """Problems between one current policy document and its catalogue entry."""
    shown = _display(path)
    try:
        meta = read_front_matter(path)
    except PolicyError as exc:
        return [str(exc)]
    if meta.id not in catalogue.policies:
        return [
            f"{shown}: policy {meta.id} has no catalogue entry (add knowledge/catalogue/*.yaml)"
        ]
    entry = catalogue.policies[meta.id]
    problems = [
        f"{shown}: front matter {name} is {got!r} but {entry.source} says {want!r}"
        for name, got, want in (
            ("version", meta.version, entry.version),
            ("title", meta.title, entry.title),
            ("domain", meta.domain, entry.domain),
        )
        if got != want
    ]
    headings = document_section_ids(path)
    for sid in entry.sections:
        if sid not in headings:
            problems.append(f"{shown}: no heading for catalogue section {sid} ({entry.source})")
    for sid in headings:
        if sid not in entry.sections:
            problems.append(f"{shown}: section {sid} has no entry in {entry.source}")
        elif not sid.startswith(f"{meta.id}-"):
            problems.append(f"{shown}: section {sid} does not belong to policy {meta.id}")
    return problems


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def check_against_documents(catalogue: Catalogue, policies_dir: Path) -> list[str]:
    """Every disagreement between the catalogue and the documents (empty: they agree).

    Current documents must match their catalogue entry section for section; older versions
    (`<slug>.v<N>.md`) must be older than the catalogue's version; each policy has exactly one
    current document, the one the catalogue names.
    """
    problems: list[str] = []
    current: dict[str, list[Path]] = {}
    for path in sorted(policies_dir.rglob("*.md")):
        if not OLDER_VERSION_FILE.search(path.name):
            problems.extend(check_document(catalogue, path))
        try:
            meta = read_front_matter(path)
        except PolicyError:
            continue  # already reported by check_document, or below for older versions
        if not OLDER_VERSION_FILE.search(path.name):
            current.setdefault(meta.id, []).append(path)
        elif meta.id in catalogue.policies:
            newest = catalogue.policies[meta.id].version
            if _version_key(meta.version) >= _version_key(newest):
                problems.append(
                    f"{_display(path)}: older-version file has version {meta.version}, "
                    f"not older than the current {newest}"
                )
    for pid, entry in sorted(catalogue.policies.items()):
        expected = (policies_dir / entry.document).resolve()
        paths = current.get(pid, [])
        if not paths:
            problems.append(
                f"{entry.source}: policy {pid} has no current document under "
                f"{_display(policies_dir)}"
            )
        elif len(paths) > 1:
            names = ", ".join(_display(p) for p in paths)
            problems.append(f"{entry.source}: policy {pid} has several current documents: {names}")
        elif paths[0].resolve() != expected:
            problems.append(
                f"{entry.source}: document: {entry.document} but the current {pid} document is "
                f"{_display(paths[0])}"
            )
    return problems


def render_rows(catalogue: Catalogue, policy_id: str | None = None) -> list[dict[str, str]]:
    """Printable rows: one per policy, or one per section of `policy_id`."""
    if policy_id is None:
        return [
            {
                "policy": p.id,
                "title": p.title,
                "domain": p.domain,
                "version": p.version,
                "severity": p.severity.value,
                "critical_harm": "yes" if p.critical_harm else "no",
                "approvers": str(p.required_approvals),
                "strikes": _strike_summary(p.strikes),
                "route": f"{p.escalation.pod} {p.escalation.channel}",
                "automatable": ", ".join(s.id for s in p.sections.values() if s.automatable) or "-",
            }
            for p in sorted(catalogue.policies.values(), key=lambda p: (p.domain, p.id))
        ]
    return [
        {
            "section": s.id,
            "title": s.title,
            "kind": s.kind.value,
            "severity": s.severity.value,
            "actions": ", ".join(a.value for a in s.allowed_actions) or "-",
            "default": s.default_action.value if s.default_action else "-",
            "strikes": ", ".join(f"{a.value} +{w}" for a, w in s.strikes.items()) or "-",
            "on_violation": s.on_violation.describe() if s.on_violation else "-",
            "second_review": ", ".join(sorted(a.value for a in s.second_review)) or "-",
            "automatable": "yes" if s.automatable else "no",
            "imminent_harm": "yes" if s.imminent_harm else "no",
        }
        for s in catalogue.sections_of(policy_id)
    ]


def _strike_summary(strikes: StrikePolicy) -> str:
    steps = ", ".join(f"{n}->{r.describe()}" for n, r in sorted(strikes.thresholds.items()))
    return f"{steps or 'no thresholds'} in {strikes.window_days}d"
