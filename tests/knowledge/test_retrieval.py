"""Retrieval over Warden's own policies: citations carry ids, versions and provenance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from warden.settings import shared_dir

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


def test_hybrid_and_dense_both_find_the_section(policy_retriever: Retriever) -> None:
    question = "someone posted a swastika patch photo with no caption, what section?"
    vector = policy_retriever.embedder.embed_query(question)
    for mode in ("dense", "hybrid"):
        hits = policy_retriever.search_vector(question, vector, 5, mode=mode)
        assert "HA-2.3" in [hit.section_id for hit in hits], mode


def test_lexical_index_is_persisted_and_reloaded(
    policy_retriever: Retriever, tmp_path: Path
) -> None:
    from knowledge.index import collection_generation
    from knowledge.retrieval import LexicalIndex

    built = LexicalIndex.from_collection(policy_retriever.collection)
    generation = collection_generation(policy_retriever.collection)
    built.save(tmp_path, generation)
    loaded = LexicalIndex.load(tmp_path, generation)
    assert loaded is not None and loaded.ids == built.ids
    assert LexicalIndex.load(tmp_path, "another-generation") is None
    mask = loaded.mask(policy="HA", version=None, approved_only=True)
    rows = loaded.search("swastika patch", 3, mask)
    assert rows and all(loaded.metadatas[row]["policy_id"] == "HA" for row, _ in rows)


def test_tokenizer_folds_endings_and_drops_stop_words() -> None:
    from knowledge.retrieval import tokenize

    assert tokenize("The threats and threatening posts") == ["threat", "threaten", "post"]


PLATFORM = shared_dir() / "corpora" / "platform-guidelines"


@pytest.mark.skipif(not PLATFORM.is_dir(), reason="platform guidelines corpus not present")
def test_platform_question_phrases_are_in_exactly_one_passage() -> None:
    from knowledge.evaluate import PLATFORM_QUESTIONS, load_questions
    from knowledge.parsing import chunk_document, iter_files, parse_file

    chunks = [
        chunk
        for path, source in iter_files([PLATFORM])
        for chunk in chunk_document(parse_file(path, source))
    ]
    questions = load_questions(PLATFORM_QUESTIONS)
    assert len(questions) >= 35
    assert len({q.source for q in questions}) == 7, "every platform is asked about"
    for question in questions:
        assert question.phrase and question.phrase not in question.question, question.id
        holders = [c for c in chunks if question.phrase in c.text]
        assert len(holders) == 1, f"{question.id}: phrase in {len(holders)} passages"
        assert holders[0].source == question.source, question.id


def test_large_index_path_filters_like_chroma(
    policy_retriever: Retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The over-fetch-then-filter path (used on big indexes) returns what Chroma's filter does."""
    import knowledge.retrieval

    question = "slur in a comment about someone's religion"
    vector = policy_retriever.embedder.embed_query(question)
    cases: list[tuple[str | None, str | None]] = [("HA", None), ("HA", "2"), (None, None)]
    for policy, version in cases:
        expected = policy_retriever.search_vector(
            question, vector, 5, mode="dense", policy=policy, version=version
        )
        monkeypatch.setattr(knowledge.retrieval, "SMALL_INDEX", 0)
        got = policy_retriever.search_vector(
            question, vector, 5, mode="dense", policy=policy, version=version
        )
        monkeypatch.setattr(knowledge.retrieval, "SMALL_INDEX", 5000)
        assert [(h.section_id, h.policy_version) for h in got] == [
            (h.section_id, h.policy_version) for h in expected
        ], (policy, version)
        assert got and all(h.approved for h in got)
