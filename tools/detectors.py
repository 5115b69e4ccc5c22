"""Detector submissions: a cluster of content with evidence, proposed for one action under one
policy section, through the automation gate of (section, detector).

The gate decides what happens, exactly as for a proposal typed in Slack: off refuses with the
reason, shadow records what would have been proposed, propose creates a pending proposal that
humans approve (the caller posts its card). Nothing is stored when the submission is refused:
every check that can refuse runs before the first write.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from knowledge.vocabulary import ACCOUNT_ACTIONS, ActionType
from tools import gates as gates_mod
from tools import proposals
from tools.cases import ClusterSpec, put_cluster, put_content
from tools.models import BlastRadius, ContentItem, Frozen, Id, Proposal, Score
from tools.store import Store, utc, utcnow
from tools.tables import ContentRow
from warden.errors import InputError, NotFoundError, WardenError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

MAX_TARGETS = 5000
NO_NUL = r"^[^\x00]+$"  # NUL cannot be stored in Postgres text
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")]
Version = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")]


class FieldProblem(InputError):
    """A submission refused because of one field (the API answers 422 naming it)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(str(p) for p in loc)}: {message}")
        self.loc = loc
        self.message = message


class GateRefused(WardenError):
    """The gate of (section, detector) is off: nothing is recorded or proposed."""


class Detector(Frozen):
    name: Name = Field(description="the detector's name, e.g. hash-matcher")
    version: Version = Field(description="the detector's version, e.g. 2.3.1")

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class Target(Frozen):
    """One content item the detector flagged, with why."""

    content_id: Id
    evidence: str = Field(
        min_length=1, max_length=500, pattern=NO_NUL, description="why this item matched"
    )
    score: Score | None = Field(None, description="the detector's score, 0..1")
    item: ContentItem | None = Field(
        None, description="the item itself, when Warden may not have it yet (stored as evidence)"
    )


class DetectorSubmission(Frozen):
    """The body of `POST /api/v1/proposals`."""

    detector: Detector
    submission_id: Id | None = Field(
        None, description="the detector's own id for this submission (idempotency key)"
    )
    section_id: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,4}-[0-9]+(\.[0-9]+)*$")]
    action: ActionType | None = Field(None, description="default: the section's default action")
    description: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    targets: list[Target] = Field(min_length=1, max_length=MAX_TARGETS)


class Submitted(BaseModel):
    """What the gate did with a submission."""

    outcome: Literal["proposed", "shadow"]
    reason: str
    cluster_id: str
    policy_id: str
    section_id: str
    action: ActionType
    detector: str
    channel: str = Field(description="the pod channel where the proposal card is posted")
    proposal: Proposal | None = None
    blast_radius: BlastRadius | None = None
    shadow_id: str | None = None


def _plan(catalogue: Catalogue, sub: DetectorSubmission) -> tuple[str, ActionType]:
    try:
        section = catalogue.section(sub.section_id)
    except NotFoundError as exc:
        raise FieldProblem(("section_id",), str(exc)) from None
    if not catalogue.automatable(sub.section_id):
        raise FieldProblem(
            ("section_id",),
            f"{sub.section_id} is not automatable in the catalogue; its cases are reviewed "
            "one by one, not proposed in bulk",
        )
    action = sub.action or section.default_action
    if action is None:
        raise FieldProblem(("action",), f"{sub.section_id} has no default action; name one")
    if not catalogue.is_allowed(sub.section_id, action):
        allowed = ", ".join(a.value for a in catalogue.allowed_actions(sub.section_id)) or "none"
        raise FieldProblem(
            ("action",), f"{action.value} is not allowed by {sub.section_id}; allowed: {allowed}"
        )
    seen: dict[str, int] = {}
    for n, target in enumerate(sub.targets):
        if target.content_id in seen:
            raise FieldProblem(
                ("targets", n, "content_id"),
                f"{target.content_id!r} is already target {seen[target.content_id]}",
            )
        seen[target.content_id] = n
        if target.item is not None and target.item.id != target.content_id:
            raise FieldProblem(("targets", n, "item", "id"), "must equal the target's content_id")
    return section.policy_id, action


def _authors(store: Store, sub: DetectorSubmission) -> dict[str, str]:
    """content id -> author for every target; refuse unknown content without an inline item."""
    inline = {t.content_id: t.item.author_id for t in sub.targets if t.item is not None}
    wanted = [t.content_id for t in sub.targets if t.item is None]
    known: dict[str, str] = {}
    with store.session() as s:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = s.execute(
                select(ContentRow.id, ContentRow.author_id).where(ContentRow.id.in_(chunk))
            )
            known.update({cid: author for cid, author in rows})
    for n, target in enumerate(sub.targets):
        if target.item is None and target.content_id not in known:
            raise FieldProblem(
                ("targets", n, "content_id"),
                f"no content {target.content_id!r} in the store; send the item with it "
                "(targets[].item) or submit its case first",
            )
    return {**known, **inline}


def _evidence(sub: DetectorSubmission) -> list[str]:
    lines = [f"detector {sub.detector.ref}: {sub.description}"[:300]]
    for target in sub.targets[:50]:
        score = "" if target.score is None else f" (score {target.score:.2f})"
        lines.append(f"{target.content_id}{score}: {target.evidence}"[:300])
    if len(sub.targets) > 50:
        lines.append(f"... and {len(sub.targets) - 50} more targets")
    return lines


def submit(
    store: Store,
    catalogue: Catalogue,
    gates: gates_mod.Gates,
    sub: DetectorSubmission,
    *,
    requester_id: str,
    cluster_id: str | None = None,
    ttl: timedelta = timedelta(hours=4),
    now: datetime | None = None,
) -> Submitted:
    """Gate, then store the cluster and record a shadow or create a pending proposal."""
    now = utc(now or utcnow())
    policy_id, action = _plan(catalogue, sub)
    authors = _authors(store, sub)
    batch = len(set(authors.values())) if action in ACCOUNT_ACTIONS else len(sub.targets)
    verdict = gates_mod.check(
        store, gates, policy_id, batch, section_id=sub.section_id, detector=sub.detector.ref
    )
    if verdict.mode is gates_mod.GateMode.OFF:
        raise GateRefused(verdict.reason)
    if batch > verdict.rule.max_batch_size:
        raise FieldProblem(("targets",), verdict.reason)
    channel = catalogue.policy(policy_id).escalation.channel
    cluster = ClusterSpec(
        id=cluster_id or f"det-{uuid.uuid4().hex[:16]}",
        policy_id=policy_id,
        section_id=sub.section_id,
        detector=sub.detector.ref,
        description=sub.description,
        created_at=now,
        content_ids=[t.content_id for t in sub.targets],
    )
    with store.session() as s:
        for target in sub.targets:
            if target.item is not None:
                put_content(s, target.item)
        s.flush()
        put_cluster(s, cluster)
    common = {
        "cluster_id": cluster.id,
        "policy_id": policy_id,
        "section_id": sub.section_id,
        "action": action,
        "detector": sub.detector.ref,
        "channel": channel,
        "reason": verdict.reason,
    }
    if not verdict.allowed:
        shadow = gates_mod.record_shadow(
            store,
            policy_id=policy_id,
            section_ids=[sub.section_id],
            action=action.value,
            target_ids=cluster.content_ids,
            requester_id=requester_id,
            cluster_id=cluster.id,
            now=now,
        )
        return Submitted(outcome="shadow", shadow_id=shadow.id, **common)
    created = proposals.create_proposal(
        store,
        catalogue,
        policy_id=policy_id,
        section_ids=[sub.section_id],
        action=action,
        targets=None,  # every item of the cluster (authors for account actions), planned by tools/
        requester_id=requester_id,
        cluster_id=cluster.id,
        evidence=_evidence(sub),
        ttl=ttl,
        now=now,
        source="api",
    )
    return Submitted(
        outcome="proposed", proposal=created.proposal, blast_radius=created.blast_radius, **common
    )
