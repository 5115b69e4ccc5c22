"""Statements of reasons in the EU DSA Transparency Database's terms, and its acceptance rules.

`to_dsa` maps a stored statement (with the catalogue's `dsa` entry for its section) to one
submission in the database API's own field names and values. `api_errors` implements the
rules the database checks on every submission (its `StatementStoreRequest`: required fields,
closed vocabularies, fields required or excluded by another field's value, lengths, date
formats and bounds) and answers with the same field errors, so an export can be checked before
it is sent and a local stand-in can answer as the database does. `problems` adds what the
database does not check but a true statement needs (dates in order).

Only the content language is checked more loosely than the database does (two capital
letters rather than its list of ISO 639-1 codes).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlparse

from sqlalchemy import select

from knowledge.vocabulary import DSA_CATEGORIES, DSA_KEYWORDS, ActionType
from tools.models import CaseSource, ContentType, DecisionAutomation, StatementOfReasons
from tools.store import Store
from tools.tables import StatementRow
from warden.errors import InputError, PolicyError
from warden.settings import EEA_COUNTRIES

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue

DECISION_VISIBILITIES = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_MONETARIES = frozenset(
    {"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
)
DECISION_PROVISIONS = frozenset(
    {
        "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_PARTIAL_TERMINATION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    }
)
DECISION_ACCOUNTS = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPES = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
DECISION_GROUNDS = frozenset(
    {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
)
CONTENT_TYPES = frozenset(f"CONTENT_TYPE_{t.value.upper()}" for t in ContentType)
SOURCE_TYPES = frozenset(
    {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    }
)
YES_NO = frozenset({"Yes", "No"})
AUTOMATED_DECISIONS = frozenset(
    {"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"}
)
# The database's "European country codes" are the EEA's.
COUNTRIES = frozenset(EEA_COUNTRIES)
PUID = re.compile(r"^[a-zA-Z0-9\-_]+$")
EAN13 = re.compile(r"^[0-9]{13}$")
LANGUAGE = re.compile(r"^[A-Z]{2}$")
DATE_FIELDS = {
    "content_date": (date(2000, 1, 1), True),
    "application_date": (date(2020, 1, 1), True),
    "end_date_account_restriction": (None, False),
    "end_date_monetary_restriction": (None, False),
    "end_date_service_restriction": (None, False),
    "end_date_visibility_restriction": (None, False),
}
LAST_DATE = date(2038, 1, 1)
DATE_MESSAGES = {
    "content_date": "The content date does not match the format YYYY-MM-DD.",
    "application_date": "The application date does not match the format YYYY-MM-DD.",
    "end_date_account_restriction": "The end date of account restriction does not match the "
    "format YYYY-MM-DD.",
    "end_date_monetary_restriction": "The end date of monetary restriction does not match the "
    "format YYYY-MM-DD.",
    "end_date_service_restriction": "The end date of service restriction does not match the "
    "format YYYY-MM-DD.",
    "end_date_visibility_restriction": "The end date of visibility restriction does not match "
    "the format YYYY-MM-DD.",
}
DECISIONS = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
MAX_BATCH = 100

_VISIBILITY = {
    ActionType.LABEL: "DECISION_VISIBILITY_CONTENT_LABELLED",
    ActionType.LIMIT_DISTRIBUTION: "DECISION_VISIBILITY_CONTENT_DEMOTED",
    ActionType.REMOVE: "DECISION_VISIBILITY_CONTENT_REMOVED",
}
_SOURCE = {
    CaseSource.USER_REPORT: "SOURCE_ARTICLE_16",
    CaseSource.TRUSTED_FLAGGER: "SOURCE_TRUSTED_FLAGGER",
    CaseSource.OTHER_NOTIFICATION: "SOURCE_TYPE_OTHER_NOTIFICATION",
    CaseSource.CLASSIFIER: "SOURCE_VOLUNTARY",
    CaseSource.DETECTOR: "SOURCE_VOLUNTARY",
    CaseSource.PROACTIVE: "SOURCE_VOLUNTARY",
}
_AUTOMATION = {
    DecisionAutomation.FULLY: "AUTOMATED_DECISION_FULLY",
    DecisionAutomation.PARTIALLY: "AUTOMATED_DECISION_PARTIALLY",
    DecisionAutomation.NOT_AUTOMATED: "AUTOMATED_DECISION_NOT_AUTOMATED",
}
# A strike restricts nothing by itself; the database has no decision type for it.
STRIKE_DECISION = (
    "A strike was recorded on the account; strikes count towards account restrictions under "
    "the policy's strike rules. The content's visibility was not changed by this decision."
)


@functools.lru_cache(maxsize=64)
def _published_url(document: Path) -> str | None:
    from knowledge.catalogue import read_front_matter

    try:
        return read_front_matter(document).url
    except (OSError, PolicyError):
        return None


def policy_url(catalogue: Catalogue, policy_id: str) -> str | None:
    """Where the policy is published (its document's front matter `url`), if it says."""
    from warden.settings import get_settings

    document = catalogue.policy(policy_id).document
    for folder in get_settings().policies_dirs:
        if (folder / document).is_file():
            return _published_url(folder / document)
    return None


def _day(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%d")


# An appeal's outcome (DSA Art. 20) and a reversal on our own review (tools.reversal).
NOTICE_PREFIXES = ("appeal:", "reversal:")


def is_notice(sor: StatementOfReasons) -> bool:
    """The outcome of a review told to the user (an internal complaint, or a QA reversal): not
    a restriction, so not a statement the Transparency Database takes (Art. 24(5) covers
    restrictions)."""
    return sor.action_key.startswith(NOTICE_PREFIXES)


def to_dsa(sor: StatementOfReasons, catalogue: Catalogue) -> dict[str, Any]:
    """One statement in the Transparency Database API's field names and values."""
    if is_notice(sor):
        raise InputError(
            f"Statement {sor.id} tells the user a review's outcome; the Transparency Database "
            "takes statements of restrictions, not review outcomes."
        )
    if sor.section_id is None or sor.action is None or sor.target_type is None:
        raise InputError(
            f"Statement {sor.id} was issued before Warden recorded its section and action; "
            "it cannot be mapped to the Transparency Database."
        )
    if sor.source == CaseSource.EVALUATION:
        raise InputError(f"Statement {sor.id} comes from an evaluation case, never enforced.")
    section = catalogue.section(sor.section_id)
    spec = section.dsa
    out: dict[str, Any] = {}
    if sor.target_type == "account" and sor.action == ActionType.SUSPEND:
        out["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
        out["end_date_account_restriction"] = _day(sor.ends_at) if sor.ends_at else None
    elif sor.action == ActionType.STRIKE:
        out["decision_visibility"] = ["DECISION_VISIBILITY_OTHER"]
        out["decision_visibility_other"] = STRIKE_DECISION
    else:
        out["decision_visibility"] = [_VISIBILITY[sor.action]]
        out["end_date_visibility_restriction"] = _day(sor.ends_at) if sor.ends_at else None
    if spec.ground == "illegal":
        out["decision_ground"] = "DECISION_GROUND_ILLEGAL_CONTENT"
        out["illegal_content_legal_ground"] = spec.legal_ground
        out["illegal_content_explanation"] = spec.explanation
    else:
        out["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        out["incompatible_content_ground"] = sor.policy_ground
        out["incompatible_content_explanation"] = sor.policy_explanation
        out["decision_ground_reference_url"] = policy_url(catalogue, section.policy_id)
    out["category"] = spec.category
    if spec.specification:
        out["category_specification"] = list(spec.specification)
    types = sor.content_type or [ContentType.OTHER]
    out["content_type"] = [f"CONTENT_TYPE_{t.value.upper()}" for t in types]
    if ContentType.OTHER in types:
        out["content_type_other"] = "Account" if sor.target_type == "account" else "Post"
    out["territorial_scope"] = sorted(set(sor.territorial_scope) & COUNTRIES)
    if sor.language:
        out["content_language"] = sor.language.upper()
    out["content_date"] = _day(sor.content_date or sor.issued_at)
    out["application_date"] = _day(sor.issued_at)
    out["decision_facts"] = sor.facts
    source = _SOURCE.get(sor.source) if sor.source is not None else None
    out["source_type"] = source or "SOURCE_VOLUNTARY"
    out["automated_detection"] = "Yes" if sor.automated_detection else "No"
    out["automated_decision"] = _AUTOMATION[sor.automated_decision]
    out["puid"] = sor.id
    return {k: v for k, v in out.items() if v is not None}


# --- the database's rules ----------------------------------------------------------------------


def _label(field: str) -> str:
    return field.replace("_", " ")


def _present(data: Mapping[str, Any], field: str) -> bool:
    """Laravel's `required`: not missing, not null, not an empty string or list."""
    value = data.get(field)
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, list | dict):
        return len(value) > 0
    return True


def _check_in(
    errors: dict[str, list[str]], data: Mapping[str, Any], field: str, allowed: frozenset[str]
) -> None:
    value = data.get(field)
    if value is None:
        return
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v in allowed for v in values):
        errors.setdefault(field, []).append(f"The selected {_label(field)} is invalid.")


def _check_array(errors: dict[str, list[str]], data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field)
    if value is not None and not isinstance(value, list | dict):
        errors.setdefault(field, []).append(f"The {_label(field)} field must be an array.")
        return False
    return True


def _check_max(
    errors: dict[str, list[str]], data: Mapping[str, Any], field: str, limit: int
) -> None:
    value = data.get(field)
    if value is None:
        return
    if not isinstance(value, str):
        errors.setdefault(field, []).append(f"The {_label(field)} field must be a string.")
    elif len(value) > limit:
        errors.setdefault(field, []).append(
            f"The {_label(field)} field must not be greater than {limit} characters."
        )


def _require(errors: dict[str, list[str]], data: Mapping[str, Any], field: str) -> bool:
    if _present(data, field):
        return True
    errors.setdefault(field, []).append(f"The {_label(field)} field is required.")
    return False


def _parse_day(value: object) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def api_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field -> messages, as the database answers a submission it refuses (empty: accepted)."""
    errors: dict[str, list[str]] = {}
    # One of the four decisions (required_without_all the others).
    if not any(_present(data, f) for f in DECISIONS):
        for field in DECISIONS:
            others = ", ".join(_label(f) for f in DECISIONS if f != field)
            errors.setdefault(field, []).append(
                f"The {_label(field)} field is required when none of {others} are present."
            )
    if _check_array(errors, data, "decision_visibility"):
        _check_in(errors, data, "decision_visibility", DECISION_VISIBILITIES)
    visibility = data.get("decision_visibility")
    if isinstance(visibility, list) and "DECISION_VISIBILITY_OTHER" in visibility:
        _require(errors, data, "decision_visibility_other")
        _check_max(errors, data, "decision_visibility_other", 500)
    _check_in(errors, data, "decision_monetary", DECISION_MONETARIES)
    if data.get("decision_monetary") == "DECISION_MONETARY_OTHER":
        if not _present(data, "decision_monetary_other"):
            errors.setdefault("decision_monetary_other", []).append(
                "The decision monetary other field is required when decision monetary is other."
            )
        _check_max(errors, data, "decision_monetary_other", 500)
    _check_in(errors, data, "decision_provision", DECISION_PROVISIONS)
    _check_in(errors, data, "decision_account", DECISION_ACCOUNTS)
    _check_in(errors, data, "account_type", ACCOUNT_TYPES)
    if _check_array(errors, data, "category_specification"):
        _check_in(errors, data, "category_specification", DSA_KEYWORDS)
    _check_max(errors, data, "category_specification_other", 500)

    if _require(errors, data, "decision_ground"):
        _check_in(errors, data, "decision_ground", DECISION_GROUNDS)
    url = data.get("decision_ground_reference_url")
    if url is not None:
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            errors.setdefault("decision_ground_reference_url", []).append(
                "The decision ground reference url field must be a valid URL."
            )
        _check_max(errors, data, "decision_ground_reference_url", 500)
    ground = data.get("decision_ground")
    ground_fields = {
        "DECISION_GROUND_ILLEGAL_CONTENT": (
            ("illegal_content_legal_ground", 500),
            ("illegal_content_explanation", 2000),
        ),
        "DECISION_GROUND_INCOMPATIBLE_CONTENT": (
            ("incompatible_content_ground", 500),
            ("incompatible_content_explanation", 2000),
        ),
    }
    for value, fields in ground_fields.items():
        if ground != value:
            continue  # excluded unless the ground is this one
        for field, limit in fields:
            if not _present(data, field):
                errors.setdefault(field, []).append(
                    f"The {_label(field)} field is required when decision ground is "
                    f"{'illegal' if 'ILLEGAL' in value else 'incompatible'} content."
                )
            _check_max(errors, data, field, limit)
    if ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        _check_in(errors, data, "incompatible_content_illegal", YES_NO)

    if _require(errors, data, "content_type") and _check_array(errors, data, "content_type"):
        _check_in(errors, data, "content_type", CONTENT_TYPES)
    types = data.get("content_type")
    if isinstance(types, list) and "CONTENT_TYPE_OTHER" in types:
        if not _present(data, "content_type_other"):
            errors.setdefault("content_type_other", []).append(
                "The content type other field is required when content is other."
            )
        _check_max(errors, data, "content_type_other", 500)

    if _require(errors, data, "category"):
        _check_in(errors, data, "category", DSA_CATEGORIES)
    if _check_array(errors, data, "category_addition"):
        _check_in(errors, data, "category_addition", DSA_CATEGORIES)
    if _check_array(errors, data, "territorial_scope"):
        _check_in(errors, data, "territorial_scope", COUNTRIES)
    language = data.get("content_language")
    if language is not None and not (isinstance(language, str) and LANGUAGE.match(language)):
        errors.setdefault("content_language", []).append(
            "The selected content language is invalid."
        )

    for field, (first, required) in DATE_FIELDS.items():
        if not _present(data, field):
            if required:
                _require(errors, data, field)
            continue
        day = _parse_day(data[field])
        if day is None:
            errors.setdefault(field, []).append(DATE_MESSAGES[field])
            continue
        if first is not None and day < first:
            errors.setdefault(field, []).append(
                f"The {_label(field)} field must be a date after or equal to {first:%Y-%m-%d}."
            )
        if day > LAST_DATE:
            errors.setdefault(field, []).append(
                f"The {_label(field)} field must be a date before or equal to {LAST_DATE:%Y-%m-%d}."
            )

    if _require(errors, data, "decision_facts"):
        _check_max(errors, data, "decision_facts", 5000)
    if _require(errors, data, "source_type"):
        _check_in(errors, data, "source_type", SOURCE_TYPES)
    if data.get("source_type") != "SOURCE_VOLUNTARY":
        _check_max(errors, data, "source_identity", 500)
    if _require(errors, data, "automated_detection"):
        _check_in(errors, data, "automated_detection", YES_NO)
    if _require(errors, data, "automated_decision"):
        _check_in(errors, data, "automated_decision", AUTOMATED_DECISIONS)
    if _require(errors, data, "puid"):
        _check_max(errors, data, "puid", 500)
        puid = data["puid"]
        if not (isinstance(puid, str) and PUID.match(puid)):
            errors.setdefault("puid", []).append("The puid format is invalid.")
    if _check_array(errors, data, "content_id"):
        content_id = data.get("content_id")
        if isinstance(content_id, dict) and "EAN-13" in content_id:
            ean = content_id["EAN-13"]
            if not (isinstance(ean, str) and EAN13.match(ean)):
                errors.setdefault("content_id.EAN-13", []).append(
                    "The content_id.EAN-13 field format is invalid."
                )
    ean = data.get("content_id_ean")
    if ean is not None and not (isinstance(ean, str) and EAN13.match(ean)):
        errors.setdefault("content_id_ean", []).append(
            "The content id ean field format is invalid."
        )
    return errors


def problems(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The database's rules plus what a true statement needs: content posted before the
    decision applied, restrictions ending after they began."""
    errors = api_errors(data)
    applied = _parse_day(data.get("application_date"))
    posted = _parse_day(data.get("content_date"))
    if applied and posted and posted > applied:
        errors.setdefault("content_date", []).append(
            "The content date is after the application date of the decision."
        )
    for field in DATE_FIELDS:
        if field.startswith("end_date_"):
            end = _parse_day(data.get(field))
            if applied and end and end < applied:
                errors.setdefault(field, []).append(
                    f"The {_label(field)} is before the application date of the decision."
                )
    return errors


def error_message(errors: Mapping[str, list[str]]) -> str:
    """The database's summary line: the first message, and how many more."""
    messages = [m for ms in errors.values() for m in ms]
    if not messages:
        return ""
    more = len(messages) - 1
    if more == 0:
        return messages[0]
    return f"{messages[0]} (and {more} more error{'s' if more > 1 else ''})"


def export_dsa(store: Store, catalogue: Catalogue, out: TextIO) -> tuple[int, int, list[str]]:
    """Write every statement as one Transparency Database submission per line (JSONL).

    Returns how many were written, how many of those pass the database's rules and
    `problems`, and the ids of statements that cannot be mapped (issued before statements
    recorded their section and action), which are left out. Review outcome notices are not
    restrictions and are never exported.
    """
    count = passing = 0
    unmapped: list[str] = []
    with store.session() as s:
        for data in s.scalars(
            select(StatementRow.data).order_by(StatementRow.issued_at, StatementRow.id)
        ):
            sor = StatementOfReasons.model_validate(data)
            if is_notice(sor):
                continue  # a review's outcome, not a restriction: never filed
            try:
                mapped = to_dsa(sor, catalogue)
            except InputError:
                unmapped.append(sor.id)
                continue
            out.write(json.dumps(mapped, ensure_ascii=False) + "\n")
            count += 1
            passing += not problems(mapped)
    return count, passing, unmapped
