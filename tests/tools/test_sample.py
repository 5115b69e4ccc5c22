"""The bundled sample data set loads idempotently and exercises what the demo needs."""

from __future__ import annotations

from knowledge.catalogue import Catalogue
from knowledge.vocabulary import ActionType, RestrictionType
from tools.cases import load_sample
from tools.proposals import create_proposal
from tools.store import Store


def test_sample_is_complete_and_idempotent(sample_store: Store, catalogue: Catalogue) -> None:
    assert len(sample_store.list_cases(limit=1000)) >= 40
    again = load_sample(sample_store, catalogue)
    assert (again.cases, again.accounts, again.strikes, again.content, again.clusters) == (
        0,
        0,
        0,
        0,
        0,
    )
    policies = set()
    for case in sample_store.list_cases(limit=1000):
        for match in catalogue.match_signals(case.signals):
            policies.add(match.policy_id)
    assert len(policies) >= 10  # the classifier signals hit the catalogue's rules across policies
    clusters = {c.id: c for c in sample_store.list_clusters()}
    assert len(clusters["cl-hs-0417"].content_ids) == 400
    for cluster in clusters.values():
        catalogue.section(cluster.section_id)


def test_sample_has_accounts_one_strike_from_suspension(
    sample_store: Store, catalogue: Catalogue
) -> None:
    spam = create_proposal(
        sample_store,
        catalogue,
        policy_id="SP",
        section_ids=["SP-2.1"],
        action=ActionType.STRIKE,
        targets=None,
        requester_id="U_DET",
        cluster_id="cl-spam-0093",
        evidence=[],
    )
    assert spam.blast_radius.account_count == 3
    crossing = [
        e.account_id
        for e in spam.blast_radius.accounts_crossing
        if e.threshold_crossed == RestrictionType.SUSPEND
    ]
    assert len(crossing) >= 1
    bulk = create_proposal(
        sample_store,
        catalogue,
        policy_id="HA",
        section_ids=["HA-2.3"],
        action=ActionType.REMOVE,
        targets=None,
        requester_id="U_DET",
        cluster_id="cl-hs-0417",
        evidence=[],
    )
    assert bulk.blast_radius.content_count == 400 and len(bulk.blast_radius.sample_texts) == 5
