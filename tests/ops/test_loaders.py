"""Loaders and label mappings: a missing label is unknown, never negative."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from knowledge.vocabulary import ActionType
from ops.loaders import load_dataset
from ops.mappings import OWN, detect_mapping, load_mapping
from warden.errors import InputError
from warden.settings import shared_dir

DATASETS = shared_dir() / "datasets"


def write_moderation(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "openai_moderation_tiny.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return path


def test_missing_category_is_unknown_not_negative(tmp_path: Path) -> None:
    path = write_moderation(
        tmp_path,
        [
            {"prompt": "first sample", "S": 0, "H": 1},
            {"prompt": "second sample", "H": 0, "V": 0, "HR": 1},
            {"prompt": "third sample", "S": 1},
            {"prompt": "fourth sample", "S": 1, "S3": 1, "H": 1},
        ],
    )
    mapping = detect_mapping(path)
    assert mapping.name == "openai-moderation"
    first, second, third, fourth = load_dataset(path, mapping)
    assert fourth.group == "S3"  # the sub-category names the group
    assert fourth.positives == frozenset({"AC", "CS", "HA"})
    assert first.label("HA") is True
    assert first.label("AC") is False
    assert first.label("GV") is None  # V and V2 absent: unknown
    assert first.label("HB") is None
    # S=0 means its sub-category S3 (sexual/minors) is 0 as well, so CS is a known negative.
    assert first.label("CS") is False
    assert second.label("HA") is False  # H=0 implies H2=0
    assert second.label("HB") is True
    assert second.label("GV") is False
    assert third.label("AC") is True
    assert third.label("CS") is None  # S=1 says nothing about S3
    assert [r.group for r in (first, second, third)] == ["H", "HR", "S"]
    assert first.case.signals == {}  # labels never leak into the case as signals
    assert first.case.items[0].text == "first sample"


def test_hatecheck_mapping_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "hatecheck_tiny.csv"
    path.write_text(
        ",functionality,case_id,test_case,label_gold\n"
        "0,derog_h,11,an invented hateful line,hateful\n"
        "1,counter_quote_nh,12,an invented counter-speech line,non-hateful\n",
        encoding="utf-8",
    )
    rows = load_dataset(path, detect_mapping(path))
    assert [r.label("HA") for r in rows] == [True, False]
    assert [r.group for r in rows] == ["derog_h", "counter_quote_nh"]
    assert rows[0].case.id == "hatecheck-11"
    assert rows[0].label("SP") is None  # outside the data set's scope


def test_unknown_label_value_names_row(tmp_path: Path) -> None:
    path = tmp_path / "hatecheck_bad.csv"
    path.write_text(",functionality,case_id,test_case,label_gold\n0,f,1,text,maybe\n")
    with pytest.raises(InputError, match=r"row 2.*'maybe'"):
        load_dataset(path, detect_mapping(path))


def test_own_format_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps(
            {"id": "a", "text": "buy now", "expected_policy": "SP", "expected_action": "remove"}
        )
        + "\n\n"
        + json.dumps({"id": "b", "text": "hello", "expected_policy": None})
        + "\n"
    )
    mapping = detect_mapping(path)
    assert mapping is OWN
    rows = load_dataset(path, mapping)
    assert rows[0].expected_action is ActionType.REMOVE
    assert rows[0].label("SP") is True and rows[0].label("HA") is False
    assert rows[1].positives == frozenset()
    assert len(load_dataset(path, mapping, limit=1)) == 1


def test_own_format_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "a", "text": "x", "expected_policy": "SP", "expected_action": "ban"}\n')
    with pytest.raises(InputError, match="line 1: expected_action"):
        load_dataset(path, detect_mapping(path))
    path.write_text("{not json\n")
    with pytest.raises(InputError, match="line 1: not JSON"):
        load_dataset(path, detect_mapping(path))


def test_mapping_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Unknown mapping"):
        load_mapping("nope")
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\nformat: csv\ncategories: {A: {policy: HA, parent: Z}}\n")
    with pytest.raises(InputError, match="parent 'Z'"):
        load_mapping(str(bad))
    with pytest.raises(InputError, match="no mapping matches"):
        detect_mapping(tmp_path / "other.csv")


@pytest.mark.skipif(not DATASETS.is_dir(), reason="public data sets not present")
def test_public_sets_load_with_expected_counts() -> None:
    hc = DATASETS / "hatecheck_test_suite_cases.csv"
    om = DATASETS / "openai_moderation_samples-1680.jsonl.gz"
    hate = load_dataset(hc, detect_mapping(hc))
    assert len(hate) == 3728
    assert sum(r.label("HA") is True for r in hate) == 2563
    mod = load_dataset(om, detect_mapping(om))
    assert len(mod) == 1680
    assert sum(r.label("HA") is None for r in mod) > 0
    assert sum(r.label("HA") is True for r in mod) == 162
