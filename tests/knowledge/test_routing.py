"""Routing a question to the document it names, from evidence the documents carry themselves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from knowledge import retrieval
from knowledge.index import build_chroma_client, ingest
from knowledge.parsing import FrontMatter, document_names, host_label
from knowledge.retrieval import build_retriever
from warden.settings import Settings

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder


def test_host_label_takes_the_name_part_of_a_host() -> None:
    assert host_label("help.instagram.com") == "instagram"
    assert host_label("www.bbc.co.uk") == "bbc"
    assert host_label("x.com") == "x"


def test_document_names_come_from_url_aliases_and_the_most_linked_site() -> None:
    front = FrontMatter(
        id="GZ-1",
        title="Gizmo rules",
        domain="d",
        version="1",
        effective="2026-01-01",
        owner="o",
        url="https://policy.gizmoco.example/rules",
        aliases="GZ, the Gizmo app",
    )
    text = "See [help](https://help.gizmoco.example/a) and [more](https://help.gizmoco.example/b)."
    text += " Once: [x](https://elsewhere.org/)."
    names = document_names(front, text).split()
    assert names[0] == "gizmoco"
    assert {"gz", "gizmo", "app"} <= set(names)
    assert "elsewhere" not in names  # linked once, and not the most linked site


def names_for(
    named: list[tuple[str, str, str]], *, others: int, suffix: str
) -> dict[str, list[int]]:
    """`document_names` over documents given as (title, recorded names, text), plus `others`
    documents titled "Other<i> <suffix>" with ordinary text."""
    metas = [{"doc_title": title, "doc_names": recorded} for title, recorded, _ in named]
    metas += [{"doc_title": f"Other{i} {suffix}", "doc_names": ""} for i in range(others)]
    texts = [text for _, _, text in named] + ["ordinary text about rules."] * others
    return retrieval.document_names(metas, texts, np.arange(len(metas), dtype=np.int32))


def test_names_keep_what_one_document_is_called_and_drop_shared_words() -> None:
    names = names_for(
        [
            ("Zorbly Community Rules", "zorbly", "we ask that Flurbers on Zorbly be kind. " * 6),
            ("Quixit Community Rules", "", "people on Quixit share clips. " * 3),
            ("X Community Rules", "", "posts on X are public."),
        ],
        others=3,
        suffix="Community Rules",
    )
    assert names["zorbly"] == [0]
    assert "zorb" not in names  # prefixes shorter than NAME_PREFIX are not keys
    assert names["zorbl"] == [0]  # a prefix of a long name ("insta")
    assert names["flurbers"] == [0]  # a proper noun frequent here, absent elsewhere
    assert names["quixit"] == [1]
    assert names["X"] == [2] and "x" not in names
    assert "community" not in names and "rules" not in names  # every title has them


@pytest.fixture
def two_platforms(tmp_path: Path, embedder: Embedder) -> retrieval.Retriever:
    folder = tmp_path / "docs"
    folder.mkdir()
    links = "\n\n".join(f"[Help {i}](https://help.{{site}}.example/{i})" for i in range(3))
    other = (
        "## Accounts\n\nKeep your password to yourself and never share a login code.\n\n"
        "## Events\n\nLive streams of concerts and sports matches need the organiser's consent.\n\n"
    )
    for name, site, removed in (("Alpha", "zorbly", "are removed"), ("Beta", "quixit", "go")):
        (folder / f"{name} Guidelines.md").write_text(
            f"# Guidelines\n\n## Trade\n\nPosts that sell knives or other blades {removed}.\n\n"
            + other
            + links.format(site=site),
            encoding="utf-8",
        )
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[tmp_path / "none"])
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=embedder, collection="two")
    return build_retriever(settings, embedder=embedder, client=client, collection="two")


def test_a_question_naming_a_site_is_routed_to_its_document(
    two_platforms: retrieval.Retriever,
) -> None:
    for site, source in (("zorbly", "Alpha Guidelines.md"), ("quixit", "Beta Guidelines.md")):
        hits = two_platforms.search(f"selling knives on {site}", k=2, approved_only=False)
        assert hits[0].source == source
    lexical = two_platforms.lexical()
    alpha = np.asarray([m["source"] == "Alpha Guidelines.md" for m in lexical.metadatas])
    flags = lexical.named_documents("anything about Zorbl knives")
    assert flags is not None and (flags == alpha).all()
    plural = lexical.named_documents("two zorblys selling knives")  # a name's plural names it
    assert plural is not None and (plural == alpha).all()
    assert lexical.named_documents("selling knives anywhere") is None


def test_a_recorded_name_the_documents_use_as_a_word_is_no_name() -> None:
    names = names_for(
        [
            ("Alpha Rules", "go zorbly", "where to go for help; Zorbly users go first. " * 3),
            ("Beta Rules", "", "you can go to settings and go back. " * 3),
        ],
        others=4,
        suffix="Rules",
    )
    assert names["zorbly"] == [0]  # linked and written capitalised: a name
    assert "go" not in names  # linked (go.example) but written in lower case: a word
