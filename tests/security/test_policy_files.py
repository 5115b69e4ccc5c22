"""Policy files that attack or confuse ingestion (issue 14, findings 7 and 8; the collection name).

Pass: the file is refused with a `PolicyError` naming it (and the line where it helps), before
anything is embedded or written; a bad collection name is one line on stderr and exit code 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from knowledge.index import build_chroma_client, ingest
from knowledge.parsing import parse_file
from warden.errors import InputError, PolicyError
from warden.settings import Settings

REPO = Path(__file__).resolve().parents[2]

HEAD = "---\nid: ZZ\ntitle: T\ndomain: community\nversion: 1\neffective: 2026-01-01\nowner: o@x\n"
BODY = "---\n# T\n\n## ZZ-1 Scope\n\nWe remove posts that threaten people.\n"

# Nine levels of nine: 538 bytes that a YAML loader expands into 387 million strings.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [{','.join(['*' + chr(ord('a') + n - 1)] * 9)}]\n"
    for n in range(1, 9)
)


@pytest.fixture
def hash_embedder() -> Any:
    from tests.bench.test_bench_smoke import HashEmbedder

    return HashEmbedder()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb.md", HEAD + BOMB + BODY)
    with pytest.raises(PolicyError, match=r"bomb\.md:8: front matter uses a YAML anchor"):
        parse_file(path)


def test_a_single_alias_is_refused_too(tmp_path: Path) -> None:
    text = HEAD.replace("owner: o@x", "owner: &who o@x") + "supersedes: *who\n" + BODY
    with pytest.raises(PolicyError, match="anchor or alias"):
        parse_file(_write(tmp_path, "alias.md", text))


def test_oversized_front_matter_is_refused(tmp_path: Path) -> None:
    text = HEAD + "notes: " + "x" * 20_000 + "\n" + BODY
    with pytest.raises(PolicyError, match=r"big\.md: front matter is 20,\d{3} characters"):
        parse_file(_write(tmp_path, "big.md", text))


@pytest.mark.parametrize(
    "extra",
    ["tags: [hate, slurs]\n", "owner_team: {name: x, pager: y}\n", "url:\n  - a\n  - b\n"],
)
def test_front_matter_values_must_be_scalars(tmp_path: Path, extra: str) -> None:
    with pytest.raises(PolicyError, match="must be a single value"):
        parse_file(_write(tmp_path, "nested.md", HEAD + extra + BODY))


def test_duplicate_section_id_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = HEAD + BODY + "\n## ZZ-2 Spam\n\nRepeated posts.\n\n## ZZ-1 Scope again\n\nAllowed.\n"
    path = _write(tmp_path, "dupe.md", text)
    with pytest.raises(PolicyError) as caught:
        parse_file(path)
    lines = text.splitlines()
    second = next(i for i, line in enumerate(lines, 1) if line.startswith("## ZZ-1 Scope again"))
    first = lines.index("## ZZ-1 Scope") + 1
    assert f"dupe.md:{second}: section id ZZ-1 is used twice (first at line {first})" in str(
        caught.value
    )


def test_duplicate_section_id_leaves_the_index_unchanged(
    tmp_path: Path, hash_embedder: Any
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    good = _write(folder, "zz.md", HEAD + BODY)
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[folder])
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=hash_embedder, collection="zzz")
    before = client.get_collection("zzz").get()["ids"]
    good.write_text(HEAD + BODY + "\n## ZZ-1 Exception\n\nActually allowed.\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"zz\.md"):
        ingest([folder], settings=settings, client=client, embedder=hash_embedder, collection="zzz")
    assert client.get_collection("zzz").get()["ids"] == before


def test_short_collection_name_is_a_clear_error(tmp_path: Path, hash_embedder: Any) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    _write(folder, "g.md", "# G\n\n## Spam\n\nWe remove repetitive unsolicited messages.\n")
    settings = Settings(WARDEN_HOME=tmp_path / "home")
    with pytest.raises(InputError, match="Collection name 'hr' is not allowed"):
        ingest([folder], settings=settings, embedder=hash_embedder, collection="hr")


def test_short_collection_name_on_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    _write(folder, "g.md", "# G\n\n## Spam\n\nWe remove repetitive unsolicited messages.\n")
    warden = Path(sys.executable).parent / "warden"
    proc = subprocess.run(
        [str(warden), "ingest", str(folder), "--collection", "hr"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "WARDEN_HOME": str(tmp_path / "home"),
            "HOME": str(tmp_path),
        },
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: Collection name 'hr' is not allowed: use 3-506 letters, digits, '.', '_' or '-', "
        "starting and ending with a letter or digit (e.g. --collection hr-policies)."
    ]
