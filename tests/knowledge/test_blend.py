"""The default `blend` mode: units (small-to-big), windows, near-duplicates, filters; and the
hard question set's labels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from knowledge.index import build_chroma_client, ingest, units_name
from knowledge.retrieval import build_retriever
from warden.settings import Settings, shared_dir

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from knowledge.retrieval import Retriever

ANIMALS = [
    "Live exotic birds caught in the wild",
    "Corals taken from protected reefs",
    "Tortoise shells and jewellery made from them",
    "Bear bile and other medicine made from animal organs",
    "Elephant tusks and carvings made from them",
    "Pangolin scales sold as remedies",
    "Shark fins sold by the kilo",
    "Rhino horn powder",
]


def _guide(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    items = "\n".join(f"- {item}." for item in ANIMALS)
    (folder / "market.md").write_text(
        "# Market Rules\n\n## Listings we remove\n\nWe remove listings that sell any of these:\n\n"
        f"{items}\n\n## Account safety\n\nKeep your password to yourself; never share a "
        "login code with anyone who messages you about your account.\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def market(tmp_path: Path, embedder: Embedder) -> tuple[Retriever, Any, Settings]:
    folder = _guide(tmp_path / "docs")
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="market")
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="market")
    return retriever, client, settings


def test_list_items_are_stored_as_units_of_their_chunk(
    market: tuple[Retriever, Any, Settings],
) -> None:
    _, client, _ = market
    units = client.get_collection(units_name("market")).get(include=["metadatas"])
    parents = set(client.get_collection("market").get()["ids"])
    assert len(units["ids"]) >= len(ANIMALS)
    assert {m["parent"] for m in units["metadatas"]} <= parents


def test_blend_finds_one_item_of_a_long_list(market: tuple[Retriever, Any, Settings]) -> None:
    retriever, _, _ = market
    hits = retriever.search("selling ivory ornaments", 3, approved_only=False)
    assert hits and "Elephant tusks" in hits[0].text
    assert hits[0].title == "Market Rules > Listings we remove"


def test_removed_chunks_take_their_units_with_them(
    market: tuple[Retriever, Any, Settings], embedder: Embedder, tmp_path: Path
) -> None:
    _, client, settings = market
    (tmp_path / "docs" / "market.md").write_text("# Market Rules\n\n## Account safety\n\n"
        "Keep your password to yourself and never share a login code.\n", "utf-8")  # fmt: skip
    ingest([tmp_path / "docs"], settings=settings, client=client, embedder=embedder,
           collection="market")  # fmt: skip
    parents = set(client.get_collection("market").get()["ids"])
    units = client.get_collection(units_name("market")).get(include=["metadatas"])
    assert {m["parent"] for m in units["metadatas"]} <= parents


def test_near_duplicate_passages_are_returned_once(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    text = "We remove posts that threaten to hurt a named person, and we may tell the police."
    for name in ("a.md", "b.md"):
        (folder / name).write_text(f"# Rules\n\n## Threats\n\n{text}\n", encoding="utf-8")
    settings = Settings(WARDEN_HOME=tmp_path / "home")
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="dupes")
    retriever = build_retriever(settings, embedder=embedder, client=client, collection="dupes")
    for mode, expected in (("hybrid", 2), ("blend", 1)):
        vector = embedder.embed_query("threatening someone")
        hits = retriever.search_vector("threatening someone", vector, 5, mode=mode,
                                       approved_only=False)  # fmt: skip
        assert len(hits) == expected, mode


def test_blend_keeps_the_policy_and_version_filters(policy_retriever: Retriever) -> None:
    question = "hateful conspiracy theories"
    vector = policy_retriever.embedder.embed_query(question)
    current = policy_retriever.search_vector(question, vector, 10, policy="HA", mode="blend")
    assert current and {(h.policy_id, h.policy_version) for h in current} == {("HA", "3")}
    older = policy_retriever.search_vector(
        question, vector, 10, policy="HA", version="2", mode="blend"
    )
    assert older and {(h.policy_id, h.policy_version) for h in older} == {("HA", "2")}
    assert all(h.approved for h in current + older)


def test_blend_is_the_default_and_finds_warden_sections(policy_retriever: Retriever) -> None:
    from knowledge.retrieval import DEFAULT_MODE

    assert DEFAULT_MODE == "blend"
    hits = policy_retriever.search("someone posted a swastika patch photo with no caption", 5)
    assert "HA-2.3" in [hit.section_id for hit in hits]


PLATFORM = shared_dir() / "corpora" / "platform-guidelines"


@pytest.mark.skipif(not PLATFORM.is_dir(), reason="platform guidelines corpus not present")
def test_hard_questions_are_labelled_and_held_back_apart() -> None:
    from knowledge.evaluate import (
        BLIND2_QUESTIONS,
        BLIND_QUESTIONS,
        FINAL_QUESTIONS,
        HARD_QUESTIONS,
        HELDBACK_QUESTIONS,
        load_questions,
    )
    from knowledge.parsing import chunk_document, iter_files, parse_file

    chunks = [
        chunk
        for path, source in iter_files([PLATFORM])
        for chunk in chunk_document(parse_file(path, source))
    ]
    dev, held = load_questions(HARD_QUESTIONS), load_questions(HELDBACK_QUESTIONS)
    assert len(dev) + len(held) >= 100 and 0.25 <= len(held) / (len(dev) + len(held)) <= 0.4
    final, blind = load_questions(FINAL_QUESTIONS), load_questions(BLIND_QUESTIONS)
    blind2 = load_questions(BLIND2_QUESTIONS)
    assert len(final) >= 36 and len(blind) >= 50 and len(blind2) >= 50
    ids = [q.id for q in dev + held + final + blind + blind2]
    assert len(ids) == len(set(ids))
    for part in (dev, held, final, blind, blind2):
        assert len({q.source for q in part}) == 7, "every platform is asked about"
    for question in dev + held + final + blind + blind2:
        terms = [term.lower() for term in question.terms]
        assert terms and not [t for t in terms if t in question.question.lower()], question.id
        holders = [
            c for c in chunks
            if c.source == question.source and all(t in c.text.lower() for t in terms)
        ]  # fmt: skip
        assert holders, f"{question.id}: no passage of {question.source} holds {terms}"
