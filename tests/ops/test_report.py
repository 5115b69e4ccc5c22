"""The report: HTML and PNG charts are written, PNGs are valid, no case text leaks."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops.evaluate import evaluate, save_run
from ops.loaders import EVAL_OPENED_AT, LabelledCase
from ops.report import build_report
from tests.fixtures.appeals import file_appeal
from tests.ops.conftest import keyword_recommender
from tools.gates import load_gates, record_human_decision, record_shadow
from tools.models import Case, ContentItem
from tools.qa import Decided, maybe_sample, record_review
from tools.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET_TEXT = "zq-sensitive-content"


def rows(n: int) -> list[LabelledCase]:
    out = []
    for i in range(n):
        policy = ["HA", "SP", None][i % 3]
        word = {"HA": "hateword", "SP": "spamword", None: "fine"}[policy]
        case = Case(
            id=f"r{i}",
            opened_at=EVAL_OPENED_AT,
            items=[ContentItem(id=f"c{i}", author_id="a", text=f"{SECRET_TEXT} {word} {i}")],
        )
        out.append(
            LabelledCase(
                case=case,
                positives=frozenset({policy} if policy else set()),
                known=None,
                group=f"g{i % 4}",
                line=i,
            )
        )
    return out


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_files_and_charts(sqlite_ops_store: Store, tmp_path: Path) -> None:
    store = sqlite_ops_store
    first = evaluate(
        rows(30),
        keyword_recommender({"hateword": "HA"}),
        dataset="own.jsonl",
        mapping="warden",
        mode="rules",
    )
    save_run(store, first)
    second = evaluate(
        rows(30),
        keyword_recommender({"hateword": "HA", "spamword": "SP"}),
        dataset="own.jsonl",
        mapping="warden",
        mode="rules",
    )
    second = second.model_copy(update={"finished_at": first.finished_at + timedelta(seconds=1)})
    save_run(store, second)
    record_shadow(
        store,
        policy_id="HA",
        section_ids=["HA-2.1"],
        action="remove",
        target_ids=["c1"],
        requester_id="agent",
        case_id="k1",
        now=NOW - timedelta(hours=1),
    )
    record_human_decision(store, action="remove", decided_by="U2", case_id="k1", now=NOW)
    file_appeal(store, action_key="content:x:remove", policy_id="HA", account_id="a", now=NOW)
    s = maybe_sample(
        store,
        Decided(
            subject_type="case",
            subject_id="k1",
            policy_id="HA",
            decision="remove",
            decided_by="U1",
            decided_at=NOW,
            vendor_team="bpo-a",
        ),
        rate=1.0,
        now=NOW - timedelta(minutes=5),  # inside the report's window, which ends at NOW
    )
    assert s is not None
    record_review(store, s.id, reviewer_id="R1", agree=True, now=NOW)

    out = tmp_path / "report"
    html_path = build_report(store, load_gates(), out_dir=out, now=NOW)
    html = html_path.read_text()
    assert html_path == out / "index.html"
    for heading in ("Evaluation", "Automation gates", "Operations", "Gaps", "Appeals"):
        assert heading in html
    assert second.id in html and first.id in html  # current run compared with the previous
    assert SECRET_TEXT not in html
    charts = sorted((out / "charts").glob("*.png"))
    names = {p.name for p in charts}
    assert any(n.endswith("-policies.png") for n in names)
    assert any(n.endswith("-confusion.png") for n in names)
    assert any(n.endswith("-groups.png") for n in names)
    assert {"ops-weekly.png", "ops-volume.png", "ops-qa-policy.png"} <= names
    # No escalation in this store: one line, not an empty chart and a table of headers.
    assert "ops-sla.png" not in names and "No escalations in this window." in html
    for chart in charts:
        width, height = png_size(chart)
        assert width > 200 and height > 150
        assert f'src="charts/{chart.name}"' in html


def test_report_on_empty_store(sqlite_ops_store: Store, tmp_path: Path) -> None:
    store = sqlite_ops_store
    html = build_report(store, load_gates(), out_dir=tmp_path / "r", now=NOW).read_text()
    assert "No evaluation run is stored yet" in html
    assert "none reviewed yet: no quality score" in html and "Agreement by reviewer" not in html
    assert sorted(p.name for p in (tmp_path / "r" / "charts").glob("*.png")) == [
        "ops-volume.png",
        "ops-weekly.png",
    ]


def test_durations_are_drawn_in_a_readable_unit() -> None:
    from ops.charts import duration_unit

    assert duration_unit([0.003, 0.01]) == ("seconds", 1 / 60)
    assert duration_unit([45.0]) == ("minutes", 1.0)
    assert duration_unit([600.0, 30.0]) == ("hours", 60.0)
