"""Retrieval over Warden's own policies: citations carry ids, versions and provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.retrieval import Retriever


def test_dehumanising_question_finds_its_section(policy_retriever: Retriever) -> None:
    hits = policy_retriever.search("Is a meme comparing an ethnic group to rats allowed?", k=5)
    assert hits, "no hits for a question the hateful activities policy answers"
    assert hits[0].section_id == "HA-2.1"
    assert hits[0].policy_id == "HA"
    assert hits[0].policy_version == "3"
    assert hits[0].approved
    assert "Dehumanising comparisons" in hits[0].title
    assert hits[0].source.endswith("hateful-activities.md")


def test_current_version_by_default_and_older_version_on_request(
    policy_retriever: Retriever,
) -> None:
    current = policy_retriever.search("hateful conspiracy theories", k=10, policy="HA")
    assert current and {hit.policy_version for hit in current} == {"3"}
    older = policy_retriever.search("hateful conspiracy theories", k=10, policy="HA", version="2")
    assert older and {hit.policy_version for hit in older} == {"2"}
    assert all(hit.policy_id == "HA" for hit in older)


def test_policy_filter_keeps_one_policy(policy_retriever: Retriever) -> None:
    hits = policy_retriever.search("graphic injury photos", k=5, policy="HA")
    assert hits and all(hit.policy_id == "HA" for hit in hits)


def test_empty_query_returns_nothing(policy_retriever: Retriever) -> None:
    assert policy_retriever.search("   ", k=5) == []
