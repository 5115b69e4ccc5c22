"""The report in a real browser (Debian's chromium, headless): operations first, every chart
loads, nothing wider than a laptop screen; a screenshot is kept for people to look at.

Set WARDEN_SCREENSHOT_DIR to keep the screenshot (and the report) after the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from knowledge.catalogue import Catalogue
from ops.evaluate import evaluate, save_run
from ops.report import build_report
from tests.fixtures.appeals import decide_appeal, file_appeal
from tests.ops.conftest import keyword_recommender
from tests.ops.test_report import png_size, rows
from tests.tools.fanout_child import seed_approved_proposal
from tools.escalations import open_escalation
from tools.fanout import execute
from tools.gates import load_gates
from tools.gateway import LocalPlatform
from tools.qa import decided_items, record_review, sample_stratified
from tools.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAPTOP = 1366
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (apt-get install chromium) on this machine",
    ),
]
# Appended to a copy of the report: after load, the browser writes what it measured into the DOM.
PROBE = """
<script>
window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = `images=${document.images.length} broken=${broken} ` +
    `scroll=${document.documentElement.scrollWidth} width=${window.innerWidth}`;
  document.body.appendChild(out);
});
</script>
"""


def _chromium(*args: str) -> str:
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            f"--window-size={LAPTOP},900",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_renders_in_headless_chromium(
    sqlite_ops_store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    store = sqlite_ops_store
    run = evaluate(
        rows(30),
        keyword_recommender({"hateword": "HA", "spamword": "SP"}),
        dataset="own.jsonl",
        mapping="warden",
        mode="rules",
    )
    save_run(store, run)
    proposal = seed_approved_proposal(store, catalogue, n=60)
    execute(store, LocalPlatform(store.engine), proposal.id, catalogue=catalogue)
    now = datetime.now(UTC) + timedelta(minutes=1)
    appeal = file_appeal(store, action_key="content:x:remove", policy_id="HA", account_id="a")
    decide_appeal(store, appeal.id, outcome="overturned", decided_by="U9", reason="satire")
    # Every section with something in it, so every chart is drawn: an escalation, QA reviews.
    open_escalation(store, catalogue, policy_id="HA", case_id=None, opened_by="U1",
                    summary="a cluster of threats")  # fmt: skip
    samples = sample_stratified(
        store, decided_items(store, since=now - timedelta(days=1)), rate=0.05, minimum=2
    )
    assert len(samples) >= 3
    record_review(store, samples[0].id, reviewer_id="R1", agree=True, catalogue=catalogue)
    disagreed = record_review(store, samples[1].id, reviewer_id="R1", agree=False,
                              reason="not the symbol", catalogue=catalogue)  # fmt: skip
    assert disagreed.reversal_proposal_id is not None

    out = tmp_path / "report"
    html_path = build_report(store, load_gates(), out_dir=out, now=now, catalogue=catalogue)
    html = html_path.read_text()
    assert html.index("<h2>Operations</h2>") < html.index("<h2>Evaluation</h2>")
    assert html.index("<h2>Operations</h2>") < html.index("<h2>EU DSA transparency")
    assert "1 appeal filed" in html and "strikes overturned in the store" not in html
    # Policies with nothing measured are named on one line, not shown as rows of n/a.
    assert "No labelled positives evaluated and no shadow records yet" in html
    assert '<td class="l">remove</td><td class="l">partially</td><td>60</td>' in html
    csv_text = (out / "transparency.csv").read_text()
    assert (
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH,DECISION_VISIBILITY_CONTENT_REMOVED,60"
        in (csv_text)
    )

    probe = out / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", probe.as_uri())
    measured = re.search(r"images=(\d+) broken=(\d+) scroll=(\d+) width=(\d+)", dom)
    assert measured, dom[-500:]
    images, broken, scroll, width = map(int, measured.groups())
    assert images >= 8 and broken == 0
    assert scroll <= width, f"the page is {scroll}px wide in a {width}px window"

    shot = out / "screenshot.png"
    _chromium(f"--screenshot={shot}", f"--window-size={LAPTOP},2600", html_path.as_uri())
    assert png_size(shot)[0] == LAPTOP
    assert shot.stat().st_size > 50_000  # a page of tables and charts, not a blank image
    keep = os.environ.get("WARDEN_SCREENSHOT_DIR")
    if keep:
        shutil.copytree(out, Path(keep), dirs_exist_ok=True)
