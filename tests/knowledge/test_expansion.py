"""The question as the dense side sees it (without platform names) and its vocabulary expansion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from knowledge import retrieval
from knowledge.index import build_chroma_client, ingest, lexical_dir, vocabulary_words
from knowledge.retrieval import LexicalIndex, build_retriever, collection_generation
from tests.fixtures.knowledge import CountingEmbedder
from warden.settings import Settings

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder

SECTIONS = {
    "Drugs": "We remove posts that sell cannabis, opioids or other controlled substances.",
    "Weapons": "Posts that sell knives, swords or other blades are removed.",
    "Accounts": "Keep your password to yourself and never share a login code with anyone.",
}


def _write(folder: Path, title: str, sections: dict[str, str], mention: str) -> None:
    body = "\n\n".join(f"## {head}\n\n{text}" for head, text in sections.items())
    (folder / f"{title}.md").write_text(
        f"# {title}\n\nThese rules apply to everyone on {mention} at all times.\n\n{body}\n",
        encoding="utf-8",
    )


@pytest.fixture
def platforms(tmp_path: Path, embedder: Embedder) -> tuple[retrieval.Retriever, CountingEmbedder]:
    """Three platforms' guidelines, each titled '<Name> Community Rules'."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("Zorbly", "Quixit", "PlumTube"):
        _write(folder, f"{name} Community Rules", SECTIONS, name)
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    counting = CountingEmbedder(embedder)
    ingest([folder], settings=settings, client=client, embedder=counting, collection="plat")
    got = build_retriever(settings, embedder=counting, client=client, collection="plat")
    return got, counting


def test_platform_names_are_proper_and_topic_titles_are_not() -> None:
    platform = [
        {"doc_title": f"{name} Community Rules", "doc_names": ""}
        for name in ("Zorbly", "Quixit", "PlumTube", "Other")
    ]
    texts = [f"people on {name} share clips, and {name} removes spam." for name in
             ("Zorbly", "Quixit", "PlumTube", "Other")]  # fmt: skip
    doc = np.arange(4, dtype=np.int32)
    names = retrieval.document_names(platform, texts, doc)
    proper = set(retrieval.proper_names(platform, texts, doc, names))
    assert {"zorbly", "quixit", "plumtube", "pt"} <= proper  # "pt": PlumTube's initials
    assert "community" not in proper and "rules" not in proper

    topics = [{"doc_title": t, "doc_names": ""} for t in ("Harassment", "Spam", "Privacy")]
    texts = [
        "we remove harassment; see Spam for repeated messages.",
        "spam is removed; Harassment covers targeted abuse.",
        "private information is protected.",
    ]
    doc = np.arange(3, dtype=np.int32)
    names = retrieval.document_names(topics, texts, doc)
    assert retrieval.proper_names(topics, texts, doc, names) == []  # every title is its topic


def test_the_dense_query_leaves_out_the_platform_the_question_names(
    platforms: tuple[retrieval.Retriever, CountingEmbedder],
) -> None:
    retriever, counting = platforms
    lexical = retriever.lexical()
    assert lexical.dense_query("selling hunting knives on zorbly?") == "selling hunting knives?"
    query = "which Quixit rule covers weed sales"
    assert lexical.dense_query(query) == "which rule covers weed sales"
    assert lexical.dense_query("is zorbly's login code safe") == "is login code safe"
    assert lexical.dense_query("zorbly knife rules") == "zorbly knife rules"  # too little left
    assert lexical.dense_query("selling knives anywhere") == "selling knives anywhere"
    hits = retriever.search("selling hunting knives on quixit", k=1, approved_only=False)
    assert hits[0].source == "Quixit Community Rules.md"  # still routed by the name
    assert counting.queries[-1] == "selling hunting knives"  # but the vector is of the rest


def test_topic_words_stay_in_the_dense_query(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    _write(folder, "Harassment", {"Abuse": "Targeted abuse of a person is removed."}, "Lumen")
    _write(folder, "Spam", {"Bulk": "Repeated bulk messages are removed as spam."}, "Lumen")
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="topics")
    lexical = build_retriever(settings, embedder=embedder, client=client, collection="topics")
    query = "is this harassment or spam"
    assert lexical.lexical().dense_query(query) == query


def test_expansion_scores_corpus_words_near_the_question(
    platforms: tuple[retrieval.Retriever, CountingEmbedder],
) -> None:
    retriever, _ = platforms
    lexical = retriever.lexical()
    assert "cannabis" in lexical.vocabulary and "zorbly" in lexical.vocabulary
    query = "weed dispensary and hemp oil shop"
    scores = lexical.expansion(retriever.embed(query), query)
    assert scores is not None
    drugs = [i for i, m in enumerate(lexical.metadatas) if m["title"].endswith("Drugs")]
    accounts = [i for i, m in enumerate(lexical.metadatas) if m["title"].endswith("Accounts")]
    # The question shares no word with the drugs rule; its meaning is near "cannabis".
    assert not set(retrieval.tokenize(query)) & set(retrieval.tokenize(SECTIONS["Drugs"]))
    assert min(scores[drugs]) > max(scores[accounts])
    hits = retriever.search(query, k=3, approved_only=False)
    assert hits[0].title.endswith("Drugs")


def test_the_vocabulary_is_saved_with_the_lexical_index_and_loads_again(
    platforms: tuple[retrieval.Retriever, CountingEmbedder], tmp_path: Path
) -> None:
    retriever, _ = platforms
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    generation = collection_generation(retriever.collection)
    loaded = LexicalIndex.load(lexical_dir(settings, "plat"), generation)
    assert loaded is not None
    assert loaded.vocabulary == retriever.lexical().vocabulary
    vectors = retriever.lexical().vocabulary_vectors
    assert loaded.vocabulary_vectors is not None and vectors is not None
    assert np.allclose(loaded.vocabulary_vectors, vectors, atol=1e-3)
    assert loaded.proper == retriever.lexical().proper


def test_vocabulary_words_are_the_corpus_words_most_frequent_first() -> None:
    words = vocabulary_words(["Selling e-cigs and vapes; vapes again.", "The user's vapes"])
    assert words[0] == "vapes"
    assert "e-cigs" in words and "user" in words and "the" not in words and "and" not in words


def test_adjacent_windows_of_one_section_join_while_short_enough() -> None:
    metas = [
        {"doc_key": "d", "doc_title": "D", "title": title, "ordinal": n}
        for n, title in enumerate(["A", "A", "A", "A", "B"])
    ]
    docs = ["x" * 900, "y" * 900, "z" * 900, "w" * 900, "v" * 100]
    lexical = LexicalIndex([f"c{n}" for n in range(5)], metas, docs, model=None)
    assert lexical.join([0], [1], 2500) == [0, 1]
    assert lexical.join([1], [0], 2500) == [0, 1]  # reading order, whichever ranked first
    assert lexical.join([0, 1], [2], 2500) is None  # 2,702 characters: too long to read as one
    assert lexical.join([0], [2], 2500) is None  # not one unbroken run
    assert lexical.join([3], [4], 2500) is None  # another section


def test_a_small_index_scores_every_chunk_and_unit_exactly(
    tmp_path: Path, embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    items = "\n".join(
        f"- {item}"
        for item in (
            "switchblades, butterfly knives and other concealable blades",
            "pepper spray and other self-defence sprays",
            "ivory and other parts of protected animals",
        )
    )
    (folder / "Market Rules.md").write_text(
        f"# Market Rules\n\n## Goods\n\nWe remove listings that sell:\n\n{items}\n",
        encoding="utf-8",
    )
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="market")
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="market")
    lexical = retriever.lexical()
    assert lexical.units is not None  # chunks + units fit under EXACT_ROWS
    query = np.asarray(retriever.embed("somebody selling a switchblade"), dtype=np.float32)
    exact = lexical.exact_dense(query)
    assert exact is not None
    chunks = np.asarray(lexical.vectors, dtype=np.float32) @ query
    assert (exact >= chunks - 1e-6).all()  # a unit can only raise its chunk's score
    units, rows = lexical.units
    best = int(np.argmax(units @ query))
    assert exact[int(rows[best])] == pytest.approx(float(units[best] @ query), abs=1e-5)
    ask = "somebody selling a switchblade"
    first = [h.text for h in retriever.search(ask, k=5, approved_only=False)]
    assert first and "switchblades" in first[0]
    assert first == [h.text for h in retriever.search(ask, k=5, approved_only=False)]
