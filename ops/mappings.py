"""Label mappings: how a labelled data set's columns become Warden policies and expectations."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from warden.errors import InputError

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
OWN_FORMAT = "warden"


class ValueLabel(BaseModel):
    """One value of a single label column: the policy it means (None = violates nothing)."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None


class CategoryLabel(BaseModel):
    """One 0/1 category key of a multi-label row."""

    model_config = ConfigDict(extra="forbid")

    policy: str
    parent: str | None = Field(
        None, description="broader category; when it is 0 this one is 0 too, even if missing"
    )


class Mapping(BaseModel):
    """A data set's layout and what its labels mean in terms of Warden policies."""

    model_config = ConfigDict(extra="forbid")

    name: str
    format: Literal["csv", "jsonl"]
    match: str | None = Field(None, description="file-name pattern that selects this mapping")
    id_field: str | None = None
    text_field: str = "text"
    group_field: str | None = Field(None, description="column for the per-group breakdown")
    label_field: str | None = None
    values: dict[str, ValueLabel] = Field(default_factory=dict)
    categories: dict[str, CategoryLabel] = Field(default_factory=dict)
    scope: list[str] = Field(
        default_factory=list, description="policies this set labels; others are unknown"
    )
    # issue 12: the exception section a correct decision on a group's rows rests on
    gold_sections: dict[str, str] = Field(
        default_factory=dict, description="group -> exception section id (context recall)"
    )

    @model_validator(mode="after")
    def _one_label_style(self) -> Mapping:
        if self.name == OWN_FORMAT:
            return self
        if bool(self.label_field) == bool(self.categories):
            raise ValueError("give either label_field + values, or categories (not both)")
        if self.label_field and not self.values:
            raise ValueError("label_field needs values: {label value: {policy: ID or null}}")
        for key, cat in self.categories.items():
            if cat.parent is not None and cat.parent not in self.categories:
                raise ValueError(f"categories.{key}.parent '{cat.parent}' is not a category")
        if not self.scope:
            derived = {v.policy for v in self.values.values() if v.policy}
            derived |= {c.policy for c in self.categories.values()}
            self.scope = sorted(derived)
        return self


OWN = Mapping(name=OWN_FORMAT, format="jsonl", id_field="id", group_field="group")


def _read(path: Path) -> Mapping:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read mapping: {exc}") from exc
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: {where}: {first['msg']}") from exc


def builtin_mappings() -> dict[str, Mapping]:
    """Every mapping shipped in ops/mappings, by name (plus the own format)."""
    found = {OWN_FORMAT: OWN}
    for path in sorted(MAPPINGS_DIR.glob("*.yaml")):
        mapping = _read(path)
        found[mapping.name] = mapping
    return found


def load_mapping(name_or_path: str) -> Mapping:
    """A shipped mapping by name, or a mapping YAML file by path."""
    shipped = builtin_mappings()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path)
    if path.is_file():
        return _read(path)
    raise InputError(
        f"Unknown mapping '{name_or_path}': use one of {', '.join(sorted(shipped))} "
        "or the path of a mapping YAML file."
    )


def detect_mapping(dataset: Path) -> Mapping:
    """Pick the mapping whose file-name pattern matches; otherwise Warden's own JSONL format."""
    for mapping in builtin_mappings().values():
        if mapping.match and fnmatch.fnmatch(dataset.name, mapping.match):
            return mapping
    if dataset.suffix == ".csv":
        raise InputError(
            f"{dataset.name}: no mapping matches this CSV; pass --map NAME or --map FILE.yaml "
            "(Warden's own format is JSONL)."
        )
    return OWN
