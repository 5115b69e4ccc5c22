"""Warden's own policy corpus and labelled questions: structure, versions, originality."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from knowledge.catalogue import (
    HEADING,
    OLDER_VERSION_FILE,
    SECTION_ID,
    Catalogue,
    PolicyFrontMatter,
    document_section_ids,
    load_catalogue,
    read_front_matter,
)
from knowledge.parsing import split_front_matter
from warden.errors import PolicyError
from warden.settings import PACKAGE_ROOT

POLICIES_DIR = PACKAGE_ROOT / "knowledge" / "policies"
QUESTIONS = PACKAGE_ROOT / "knowledge" / "questions" / "warden_questions.jsonl"
SHARED_CORPORA = PACKAGE_ROOT.parent / "shared" / "corpora"
DOCUMENTS = sorted(POLICIES_DIR.rglob("*.md"))
CURRENT = [p for p in DOCUMENTS if not OLDER_VERSION_FILE.search(p.name)]
OLDER = [p for p in DOCUMENTS if OLDER_VERSION_FILE.search(p.name)]
WORD = re.compile(r"[a-z0-9']+")


def sections_text(path: Path) -> dict[str, tuple[int, str]]:
    """Section id -> (heading level, text under the heading up to the next heading)."""
    _, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    out: dict[str, tuple[int, str]] = {}
    current: str | None = None
    for line in body.splitlines():
        match = HEADING.match(line)
        if match:
            sid = match.group(2)
            current = sid if SECTION_ID.match(sid) else None
            if current:
                out[current] = (len(match.group(1)), "")
        elif current:
            level, text = out[current]
            out[current] = (level, text + line + "\n")
    return out


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def shingles(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def load_questions() -> list[dict[str, object]]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_corpus_covers_three_domains_and_thirteen_policies() -> None:
    metas = [read_front_matter(p) for p in CURRENT]
    assert len({m.id for m in metas}) == len(metas) >= 13
    domains = {m.domain for m in metas}
    assert {"community", "advertising", "shopping"} <= domains
    community = {m.id for m in metas if m.domain == "community"}
    assert {"HA", "GV", "VE", "CS", "SH", "HB", "AC", "RG", "SP", "MI", "PV"} <= community


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_front_matter_and_headings(path: Path) -> None:
    meta = read_front_matter(path)
    # The folder is the domain, so a document cannot silently sit in the wrong one.
    assert path.parent.name == meta.domain
    older = OLDER_VERSION_FILE.search(path.name)
    if older:
        assert path.name.endswith(f".v{meta.version}.md")
    sections = sections_text(path)
    assert sections, "no section headings"
    for sid, (level, _) in sections.items():
        assert sid.startswith(f"{meta.id}-"), sid
        depth = sid.count(".")
        assert level == 2 + depth, f"{sid} is at heading level {level}"
        if depth:
            assert sid.rsplit(".", 1)[0] in sections, f"{sid} has no parent heading"
    # Every heading below the title carries a section id as its first token.
    _, body = split_front_matter(path.read_text(encoding="utf-8"), path)
    for line in body.splitlines():
        match = HEADING.match(line)
        if match and len(match.group(1)) > 1:
            assert SECTION_ID.match(match.group(2)), f"heading without a section id: {line}"
    assert {f"{meta.id}-{n}" for n in range(1, 6)} <= set(sections)


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.name)
def test_violating_subsections_are_substantial(path: Path, catalogue: Catalogue) -> None:
    for sid, (level, text) in sections_text(path).items():
        if level == 3 and catalogue.section(sid).kind == "violation":
            count = len(words(text))
            assert 80 <= count <= 300, f"{sid} has {count} words"


def test_front_matter_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("# no front matter\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.md: front matter: missing"):
        read_front_matter(bad)
    bad.write_text("---\nid: HA\ntitle: X\ndomain: community\n---\nbody\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.md: front matter is missing version"):
        read_front_matter(bad)
    bad.write_text(
        "---\nid: HA\ntitle: X\ndomain: community\nversion: three\neffective: soon\n"
        "owner: me\n---\nbody\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match=r"bad\.md: front matter: version: .*; effective: "):
        read_front_matter(bad)


def test_hateful_activities_versions_differ() -> None:
    current = POLICIES_DIR / "community" / "hateful-activities.md"
    older = POLICIES_DIR / "community" / "hateful-activities.v2.md"
    new_meta, old_meta = read_front_matter(current), read_front_matter(older)
    assert new_meta.id == old_meta.id == "HA"
    assert new_meta.supersedes == old_meta.version == "2"
    assert new_meta.version == "3" and new_meta.effective > old_meta.effective
    new_sections, old_sections = sections_text(current), sections_text(older)
    # v3 added a section and rewrote the hate-symbol and enforcement rules.
    assert set(new_sections) - set(old_sections) == {"HA-2.6"}
    for sid in ("HA-2.3", "HA-5"):
        assert new_sections[sid][1] != old_sections[sid][1]
    assert "limit" in new_sections["HA-5"][1] and "no distribution limit" in old_sections["HA-5"][1]


def test_every_older_version_is_superseded() -> None:
    current = {read_front_matter(p).id: read_front_matter(p) for p in CURRENT}
    assert OLDER, "at least one policy keeps an older version"
    for path in OLDER:
        meta: PolicyFrontMatter = read_front_matter(path)
        assert meta.id in current, f"{path.name} has no current version"
        assert int(current[meta.id].version) > int(meta.version)
        assert current[meta.id].effective > meta.effective


def test_documents_are_our_own_words() -> None:
    """No 10-word run of a third-party guideline appears in our documents."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"third-party corpora not present at {SHARED_CORPORA}")
    theirs: set[tuple[str, ...]] = set()
    for path in SHARED_CORPORA.rglob("*.md"):
        theirs |= shingles(path.read_text(encoding="utf-8", errors="replace"), 10)
    for path in DOCUMENTS:
        copied = shingles(path.read_text(encoding="utf-8"), 10) & theirs
        assert not copied, f"{path.name} repeats third-party text: {' '.join(next(iter(copied)))}"


def test_questions_are_labelled_and_cover_every_policy(catalogue: Catalogue) -> None:
    questions = load_questions()
    assert len(questions) >= 90
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids))
    old_sections = {
        read_front_matter(p).id + ":" + read_front_matter(p).version: set(document_section_ids(p))
        for p in OLDER
    }
    for q in questions:
        assert set(q) <= {"id", "question", "expected", "policy", "version"}, q["id"]
        expected = q["expected"]
        assert isinstance(expected, list) and expected, q["id"]
        for sid in expected:
            assert catalogue.section(str(sid)).policy_id == q["policy"], q["id"]
            if "version" in q and q["version"] != catalogue.policy(str(q["policy"])).version:
                assert sid in old_sections[f"{q['policy']}:{q['version']}"], q["id"]
    assert {q["policy"] for q in questions} == set(catalogue.policies)
    assert sum(1 for q in questions if "version" in q) >= 3


def test_questions_paraphrase_rather_than_quote() -> None:
    """A question sharing a 6-word run with the corpus would make retrieval look too easy."""
    corpus: set[tuple[str, ...]] = set()
    for path in DOCUMENTS:
        corpus |= shingles(path.read_text(encoding="utf-8"), 6)
    for q in load_questions():
        copied = shingles(str(q["question"]), 6) & corpus
        assert not copied, f"{q['id']} quotes the policy: {' '.join(next(iter(copied)))}"


def test_enforcement_text_agrees_with_catalogue(catalogue: Catalogue) -> None:
    """The numbers a specialist reads in X-5 are the ones the catalogue enforces."""
    for path in CURRENT:
        meta = read_front_matter(path)
        policy = catalogue.policy(meta.id)
        text = sections_text(path)[f"{meta.id}-5"][1]
        assert f"{policy.strikes.window_days} days" in text, meta.id
        assert ("two approvers" in text) == policy.critical_harm, meta.id
