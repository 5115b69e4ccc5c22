"""The load check runs end to end (small numbers; `python -m slackapp.loadcheck` for real)."""

from __future__ import annotations

from slackapp.loadcheck import run


def test_loadcheck_reports_ack_latency_for_clicks_and_events() -> None:
    report = run(clicks=4, events=8, delay_s=0.5, workers=2)
    assert report["clicks"]["n"] == 4 and report["events"]["n"] == 8
    assert report["clicks"]["status"] == {200: 4}
    assert report["events"]["status"] == {200: 8}
    assert report["events"]["median_ms"] <= report["events"]["max_ms"]
