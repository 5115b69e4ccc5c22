"""Parsing and chunking: every heading style, lists, HTML, text, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.parsing import MAX_CHARS, chunk_document, iter_files, parse_file
from warden.errors import InputError, PolicyError
from warden.settings import shared_dir

FRONT = """---
id: ZZ
title: Zebra Test Policy
domain: community
version: "2"
effective: 2026-01-01
owner: policy@example.test
---
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def titles(path: Path) -> list[str]:
    return [chunk.title for chunk in chunk_document(parse_file(path))]


def test_front_matter_and_section_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "zebra.md",
        FRONT + "# Zebra Test Policy\n\nWhy this policy exists, in a sentence or two of text.\n\n"
        "## ZZ-2 What violates\n\nThe general rule about striped content goes here.\n\n"
        "### ZZ-2.1 Striped insults\n\nInsults that use stripes as a slur are removed here.\n",
    )
    doc = parse_file(path)
    assert doc.policy_id == "ZZ" and doc.policy_version == "2"
    assert doc.doc_key == "ZZ@2"
    chunks = chunk_document(doc)
    by_id = {chunk.section_id: chunk for chunk in chunks}
    assert set(by_id) == {"ZZ:zebra-test-policy#1", "ZZ-2", "ZZ-2.1"}
    assert by_id["ZZ-2.1"].title == "Zebra Test Policy > What violates > Striped insults"
    assert by_id["ZZ-2.1"].policy_version == "2"
    assert "ZZ-2.1" not in by_id["ZZ-2.1"].text


def test_markdown_headings_give_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "acme.md",
        "# Acme Rules\n\nIntro text about the whole rule book for everyone.\n\n"
        "## Safety\n\nSafety text that is long enough to count as a passage.\n\n"
        "### Threats\n\nThreat text that is long enough to count as a passage.\n\n"
        "## Privacy\n\nPrivacy text that is long enough to count as a passage.\n",
    )
    assert titles(path) == [
        "Acme Rules",
        "Acme Rules > Safety",
        "Acme Rules > Safety > Threats",
        "Acme Rules > Privacy",
    ]
    ids = [chunk.section_id for chunk in chunk_document(parse_file(path))]
    assert ids[2] == "acme:acme-rules/safety/threats#1"


def test_plain_line_and_bold_headings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "plain.md",
        "Hateful conduct\n\nWe remove attacks on people for who they are, in every surface.\n\n"
        "Policy rationale\n\nPeople must feel safe to speak, so we draw these lines clearly.\n\n"
        "**Tier one**\n\nThe most severe attacks are removed without any further context.\n\n"
        "This sentence ends with a period.\n\nSo it stays body text, not a heading of its own.\n",
    )
    assert titles(path) == [
        "Hateful conduct",
        "Hateful conduct > Policy rationale",
        "Hateful conduct > Policy rationale > Tier one",
    ]


def test_repeated_headings_are_made_unique_by_their_parents(tmp_path: Path) -> None:
    parts = []
    for name in ("Spam", "Fraud", "Violence"):
        parts.append(
            f"{name}\n{'=' * len(name)}\n\n### Policy details\n\nCHANGE LOG\n\n"
            f"The {name.lower()} rules are described in this paragraph of text.\n\n- - -\n"
        )
    path = write(tmp_path, "meta.md", "\n".join(parts))
    chunks = chunk_document(parse_file(path))
    assert [c.title for c in chunks] == [
        "Spam > Policy details",
        "Fraud > Policy details",
        "Violence > Policy details",
    ]
    assert len({c.section_id for c in chunks}) == 3
    assert chunks[1].section_id == "meta:fraud/policy-details#1"
    assert all("CHANGE LOG" not in c.text for c in chunks)


def test_empty_heading_marker_takes_the_next_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.md",
        "Abuse\n=====\n\n###   \nTargeted Harassment  \n\n"
        "We prohibit targeting people with repeated unwanted abuse.\n",
    )
    assert titles(path) == ["Abuse > Targeted Harassment"]


def test_long_list_is_split_and_keeps_context(tmp_path: Path) -> None:
    items = "\n".join(
        f"*   Item number {i} describes one more kind of content we remove from the service."
        for i in range(60)
    )
    path = write(
        tmp_path,
        "long.md",
        "# Rules\n\n## Not allowed\n\nWe remove content that includes:\n\n" + items + "\n",
    )
    chunks = chunk_document(parse_file(path))
    assert len(chunks) > 3
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(c.title == "Rules > Not allowed" for c in chunks)
    assert chunks[1].text.startswith("We remove content that includes: (continued)")
    joined = "\n".join(c.text for c in chunks)
    assert all(f"Item number {i} " in joined for i in range(60))
    assert len({c.section_id for c in chunks}) == len(chunks)


def test_navigation_boilerplate_is_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nav.md",
        "[](https://example.test/)\n\n# Violent speech\n\n"
        "Released May 1, 2025 • Effective June 1, 2025\n\n"
        "We remove threats of violence against people or groups of people.\n\n"
        "[Learn more](https://example.test/more)\n\n#### Share this article\n\nPost\n\n"
        "### May 2024\n\nThreats made as jokes are still reviewed as threats by our team.\n",
    )
    chunks = chunk_document(parse_file(path))
    text = "\n".join(c.text for c in chunks)
    assert "Learn more" not in text and "Released" not in text and "Post" not in text
    assert "threats of violence" in text and "still reviewed" in text
    assert {c.title for c in chunks} == {"Violent speech"}


def test_html_document(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "page.html",
        "<html><head><style>p{}</style></head><body><nav><a href='/'>Home</a></nav>"
        "<h1>Community rules</h1><p>These rules apply to every post on the service.</p>"
        "<h2>Spam</h2><p>We remove repetitive unsolicited content such as:</p>"
        "<ul><li>Mass messages<ul><li>sent by scripts to strangers</li></ul></li>"
        "<li>Fake giveaways that collect personal data</li></ul>"
        "<footer>Copyright</footer></body></html>",
    )
    chunks = chunk_document(parse_file(path))
    assert [c.title for c in chunks] == ["Community rules", "Community rules > Spam"]
    spam = chunks[1].text
    assert "- Mass messages\n  - sent by scripts to strangers" in spam
    assert "Home" not in spam and "Copyright" not in spam


def test_plain_text_document(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rules.txt",
        "Marketplace Rules\n=================\n\n"
        "Sellers must describe items honestly at all times.\n\n"
        "Counterfeit goods\n\nWe remove listings of fake branded goods, including:\n"
        "- replica handbags sold as genuine\n- knock-off watches with copied logos\n",
    )
    chunks = chunk_document(parse_file(path))
    assert [c.title for c in chunks] == [
        "Marketplace Rules",
        "Marketplace Rules > Counterfeit goods",
    ]
    assert "- replica handbags sold as genuine" in chunks[1].text


def test_front_matter_that_is_not_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.md", "---\nid: [unclosed\ntitle: x\n---\n# Body\n")
    with pytest.raises(PolicyError, match=r"broken\.md.*not valid YAML"):
        parse_file(path)


def test_front_matter_missing_keys_names_them(tmp_path: Path) -> None:
    path = write(tmp_path, "partial.md", "---\nid: ZZ\ntitle: Zebra\n---\n# Body\n")
    with pytest.raises(PolicyError, match=r"partial\.md.*domain, version, effective, owner"):
        parse_file(path)


def test_binary_and_undecodable_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match=r"image\.md.*binary"):
        parse_file(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 rules".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.txt.*UTF-8"):
        parse_file(latin)


def test_iter_files_walks_folders_and_refuses_unknown_types(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "a.md", "# A\n\ntext text text text text text\n")
    write(tmp_path / "sub", "b.txt", "B\n\ntext text text text text text\n")
    write(tmp_path, "notes.pptx", "slides, not supported")
    assert [source for _, source in iter_files([tmp_path])] == ["a.md", "sub/b.txt"]
    with pytest.raises(InputError, match="unsupported file type"):
        iter_files([tmp_path / "notes.pptx"])
    with pytest.raises(InputError, match="no such file"):
        iter_files([tmp_path / "missing"])


PLATFORM = shared_dir() / "corpora" / "platform-guidelines"


@pytest.mark.skipif(not PLATFORM.is_dir(), reason="platform guidelines corpus not present")
def test_platform_guidelines_chunk_into_readable_passages() -> None:
    for path, source in iter_files([PLATFORM]):
        chunks = chunk_document(parse_file(path, source))
        assert len(chunks) > 20, source
        assert max(len(c.text) for c in chunks) <= MAX_CHARS + 200, source
        assert len({c.section_id for c in chunks}) == len(chunks), source
        # no passage is a bare navigation line and every one has a heading path
        assert all(len(c.text.split()) >= 6 and c.title for c in chunks), source
