"""The reliability and security suite (issue 7): figures per test, fake secrets, app harnesses.

Every test records what it tried and what happened through the `figures` fixture; at the end of
the session a table is printed and written to `var/security-figures.json`. `WARDEN_STRESS=1`
(`make stress`) runs the full counts; `make test` runs the fast ones.

Every secret the suite configures is a distinctive fake (`FAKE_SECRETS`): the whole session's log
records are captured into `var/security-suite.log` and scanned for them when the session ends
(test_secrets.py scans audit rows, prompts and Slack output of its own runs too).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

STRESS = os.environ.get("WARDEN_STRESS") == "1"
REPO = Path(__file__).resolve().parents[2]
VAR = REPO / "var"
FIGURES_JSON = VAR / "security-figures.json"
SUITE_LOG = VAR / "security-suite.log"
# One tag per pytest session, inherited by the app processes it starts, so that two sessions
# running at once (make test and make stress) never scan or delete each other's logs.
SESSION = os.environ.setdefault("WARDEN_SECURITY_SESSION", f"{os.getpid()}")


def session_log(kind: str, pid: int | None = None) -> Path:
    """This session's log file of one kind (`suite`, or `child` with the child's pid)."""
    suffix = f"-{pid}" if pid is not None else ""
    return VAR / f"security-{kind}-{SESSION}{suffix}.log"


# Distinctive fakes: if any of these strings shows up in a log, an audit row, a prompt or a
# report, something printed a secret. None of them is a real credential.
SIGNING_SECRET = "h9sig-7c41d0e2b95f4a38-SIGNING-fake"
BOT_TOKEN = "xoxb-h9-0000000000-FAKEBOTTOKEN-5e2a9c"
APP_TOKEN = "xapp-1-h9FAKE-APPTOKEN-3b7d1f"
OPENAI_KEY = "sk-h9-FAKE-openai-key-8d3e51c2"
ENFORCEMENT_KEY = "h9-FAKE-enforcement-key-2f6b90"
FAKE_SECRETS = (SIGNING_SECRET, BOT_TOKEN, APP_TOKEN, OPENAI_KEY, ENFORCEMENT_KEY)

APPROVERS = ["UAPPROVER1", "UAPPROVER2", "UAPPROVER3"]
REQUESTER = "UREQUESTER"
OUTSIDER = "UOUTSIDER"
CHANNEL = "CSAFETY01"
USERGROUP = "S0APPROVERS"
# A policy section that needs one approver (SP is not critical harm) and is automatable.
ONE_APPROVER_SECTION = "SP-2.1"


def scale(fast: int, stress: int) -> int:
    """The count for this run: `stress` under WARDEN_STRESS=1, else `fast`."""
    return stress if STRESS else fast


# -- figures ----------------------------------------------------------------------------------
@dataclass
class Figures:
    """What one test tried and what came of it (the columns of the session table)."""

    test: str
    tried: int = 0
    rejected: int = 0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    server_errors: int = 0
    outcome: str = ""
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)


_RESULTS: dict[str, Figures] = {}
_RESULTS_LOCK = threading.Lock()


def record_figures(name: str) -> Figures:
    with _RESULTS_LOCK:
        return _RESULTS.setdefault(name, Figures(test=name))


def _row_name(item: Any) -> str:
    name = item.nodeid.split("::", 1)[-1]
    module = Path(str(item.fspath)).stem.removeprefix("test_")
    return f"{module}: {name}"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """This test's row in the session table (the test id without the file path)."""
    return record_figures(_row_name(request.node))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """Put the test's outcome in its row: a known bug shows as `xfail (bug)`."""
    outcome: Any = yield
    report = outcome.get_result()
    name = _row_name(item)
    with _RESULTS_LOCK:
        row = _RESULTS.get(name)
    if row is None or (report.when != "call" and not report.failed):
        return
    if hasattr(report, "wasxfail"):
        row.outcome = "xfail (bug)" if report.skipped else "XPASS"
    else:
        row.outcome = report.outcome


def _table(rows: list[Figures]) -> str:
    cols = ("tried", "rejected", "accepted", "lost", "duplicated", "server_errors")
    width = max([len(r.test) for r in rows] + [4])
    width = min(width, 120)
    head = f"{'test':<{width}} " + " ".join(f"{c:>10}" for c in cols) + "  outcome"
    lines = [head, "-" * len(head)]
    for r in rows:
        values = " ".join(f"{getattr(r, c):>10}" for c in cols)
        lines.append(f"{r.test[:width]:<{width}} {values}  {r.outcome}")
    return "\n".join(lines)


# -- session log capture and the secret scan ------------------------------------------------
_LOGGERS = ("", "slackapp", "agent", "tools", "knowledge", "warden", "slack_bolt", "slack_sdk")
_handler: logging.Handler | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _handler
    VAR.mkdir(exist_ok=True)
    # Append mode: uvicorn's logging.config.dictConfig closes every existing handler when a
    # server starts, and only a handler not opened with "w" reopens on the next record.
    _handler = logging.FileHandler(session_log("suite"), mode="a", encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(_handler)


@pytest.fixture(autouse=True)
def _debug_logs() -> Iterator[None]:
    """During this suite's tests, the libraries that touch tokens log at DEBUG into the scan."""
    loggers = [logging.getLogger(name) for name in _LOGGERS if name]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield
    for lg, level in zip(loggers, before, strict=True):
        lg.setLevel(level)


def scan_for_secrets(text: str) -> list[str]:
    """Which of the suite's fake secrets appear in `text` (an empty list is the pass)."""
    return [s for s in FAKE_SECRETS if s in text]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is not None:
        _handler.flush()
        logging.getLogger().removeHandler(_handler)
        _handler.close()
    with _RESULTS_LOCK:
        rows = list(_RESULTS.values())
    if not rows:
        return
    own = sorted(VAR.glob(f"security-*-{SESSION}*.log"))
    log_text = "".join(path.read_text(encoding="utf-8", errors="replace") for path in own)
    # Keep the last session's log under a fixed name for reading; drop this session's files.
    SUITE_LOG.write_text(log_text, encoding="utf-8")
    for path in own:
        path.unlink()
    found = scan_for_secrets(log_text)
    scan = record_figures("secrets: every log record of the session")
    scan.tried = len(log_text.splitlines())
    scan.accepted = len(found)
    scan.outcome = "failed" if found else "passed"
    if found:
        scan.note(f"fake secrets found in the session's logs ({SUITE_LOG}): {len(found)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    rows = sorted(_RESULTS.values(), key=lambda r: r.test)
    FIGURES_JSON.write_text(
        json.dumps(
            {
                "stress": STRESS,
                "written_at": datetime.now(UTC).isoformat(),
                "columns": "accepted = forged/refused-class inputs that got through (want 0), "
                "except for controls, which are listed in notes",
                "rows": [asdict(r) for r in rows],
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    with _RESULTS_LOCK:
        rows = sorted(_RESULTS.values(), key=lambda r: r.test)
    if not rows:
        return
    mode = "stress" if STRESS else "fast"
    terminalreporter.write_sep("=", f"security figures ({mode}; also in {FIGURES_JSON})")
    terminalreporter.write_line(_table(rows))
    notes = [(r.test, n) for r in rows for n in r.notes]
    if notes:
        terminalreporter.write_line("")
        for test, note in notes:
            terminalreporter.write_line(f"  {test}: {note}")


# -- stores and proposals -------------------------------------------------------------------
def seed_cluster(
    store: Any, catalogue: Any, *, n: int, section_id: str = ONE_APPROVER_SECTION
) -> str:
    """A detector cluster of `n` pins by n//3+1 authors, bulk-inserted; returns its id."""
    from sqlalchemy import insert

    from tools.tables import AccountRow, ClusterItemRow, ClusterRow, ContentRow

    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    authors = [f"acct-{tag}-{i}" for i in range(n // 3 + 1)]
    items = [f"pin-{tag}-{i}" for i in range(n)]
    section = catalogue.section(section_id)
    with store.session() as s:
        s.execute(
            insert(AccountRow),
            [{"id": a, "handle": a, "status": "active", "created_at": now} for a in authors],
        )
        s.execute(
            insert(ContentRow),
            [
                {
                    "id": c,
                    "kind": "pin",
                    "author_id": authors[i % len(authors)],
                    "text": f"bulk repost {i} of the same link farm {tag}",
                    "created_at": now,
                }
                for i, c in enumerate(items)
            ],
        )
        s.add(
            ClusterRow(
                id=f"cluster-{tag}",
                policy_id=section.policy_id,
                section_id=section_id,
                detector="security-suite",
                description=f"{n} synthetic pins",
                created_at=now,
            )
        )
        s.flush()
        s.execute(
            insert(ClusterItemRow),
            [{"cluster_id": f"cluster-{tag}", "content_id": c} for c in items],
        )
    return f"cluster-{tag}"


def pending_proposal(
    store: Any,
    catalogue: Any,
    *,
    n: int = 3,
    section_id: str = ONE_APPROVER_SECTION,
    requester: str = REQUESTER,
) -> Any:
    """A pending proposal over a fresh cluster (created through the real `create_proposal`)."""
    from knowledge.vocabulary import ActionType
    from tools.proposals import create_proposal

    cluster = seed_cluster(store, catalogue, n=n, section_id=section_id)
    section = catalogue.section(section_id)
    return create_proposal(
        store,
        catalogue,
        policy_id=section.policy_id,
        section_ids=[section_id],
        action=ActionType.REMOVE,
        targets=None,
        requester_id=requester,
        cluster_id=cluster,
        ttl=timedelta(hours=1),
    ).proposal


def landed(store: Any, proposal: Any) -> tuple[int, int]:
    """(lost, duplicated) for an executed proposal, from the platform, ledger, audit and strikes."""
    from tests.tools.fanout_child import tally

    counts = tally(store, proposal)
    return counts.lost, counts.duplicated


# -- the Slack app over HTTP ----------------------------------------------------------------
def app_settings(standin_url: str, **extra: Any) -> Any:
    from warden.settings import Settings

    return Settings(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin_url,
        OPENAI_API_KEY=OPENAI_KEY,
        WARDEN_ENFORCEMENT_API_KEY=ENFORCEMENT_KEY,
        WARDEN_APPROVERS=[APPROVERS[2]],
        WARDEN_APPROVER_USERGROUP=USERGROUP,
        **extra,
    )


@dataclass
class Replica:
    app: Any
    server: Any
    warden: Any
    driver: Any

    def stop(self) -> None:
        self.driver.close()
        self.server.stop()
        self.app.drain(30)
        self.app.close()


@dataclass
class Cluster:
    """One or more app replicas over one store and one Slack stand-in."""

    store: Any
    catalogue: Any
    standin: Any
    replicas: list[Replica]

    @property
    def first(self) -> Replica:
        return self.replicas[0]

    def settle(self, timeout: float = 120.0) -> None:
        for r in self.replicas:
            assert r.app.drain(timeout), "background jobs did not finish"

    def resumes(self) -> list[Any]:
        return [d for r in self.replicas for d in r.warden.resumes]

    def post_card(self, proposal: Any) -> dict[str, Any]:
        """Put the proposal's card in the channel, as the app would have, and return it."""
        from slackapp.blocks import ProposalRef, proposal_blocks
        from slackapp.ledger import Post, SlackLedger
        from tools.models import BlastRadius

        ts = self.standin.add_message(CHANNEL, f"Proposal {proposal.id}", user="UWARDENBOT")
        thread_id = f"{CHANNEL}:{ts}"
        blast = BlastRadius(
            total_actions=len(proposal.actions),
            content_count=len(proposal.actions),
            account_count=0,
            sample=proposal.actions[:5],
        )
        message = self.standin.messages[(CHANNEL, ts)]
        message["blocks"] = proposal_blocks(proposal, blast, thread_id=thread_id)
        SlackLedger(self.store.engine).remember_post(
            "proposal", proposal.id, Post(CHANNEL, ts, thread_id)
        )
        ref = ProposalRef(
            proposal_id=proposal.id, action_hash=proposal.action_hash, thread_id=thread_id
        )
        message["_ref"] = ref.model_dump_json()
        return dict(message)


def start_replica(store: Any, catalogue: Any, standin: Any, **settings: Any) -> Replica:
    """One app replica (own agent stand-in, worker pool, uvicorn) over the shared store."""
    from slackapp.app import build_app
    from slackapp.driver import SlackDriver
    from slackapp.http import start_in_thread
    from tests.slackapp.conftest import ScriptedWarden

    warden = ScriptedWarden(store, catalogue)
    app = build_app(
        app_settings(standin.url, **settings),
        warden=warden,
        store=store,
        progress_interval_s=0.0,
    )
    server = start_in_thread(app.asgi())
    driver = SlackDriver(
        server.endpoint,
        SIGNING_SECRET,
        response_url_base=standin.url.replace("/api/", "/respond/"),
    )
    return Replica(app, server, warden, driver)


def start_cluster(store: Any, catalogue: Any, *, replicas: int = 1) -> Cluster:
    from slackapp.standin import StandIn

    standin = StandIn(usergroups={USERGROUP: APPROVERS[:2]}).start()
    started = [start_replica(store, catalogue, standin) for _ in range(replicas)]
    return Cluster(store, catalogue, standin, started)


def stop_cluster(cluster: Cluster) -> None:
    for r in cluster.replicas:
        r.stop()
    cluster.standin.stop()


@pytest.fixture
def app_cluster(sqlite_store: Any, catalogue: Any) -> Iterator[Cluster]:
    """One replica of the real Slack app (HTTP, uvicorn on loopback) over a SQLite store."""
    cluster = start_cluster(sqlite_store, catalogue)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def two_replicas(store: Any, catalogue: Any) -> Iterator[Cluster]:
    """Two replicas over one store, on SQLite and on Postgres."""
    cluster = start_cluster(store, catalogue, replicas=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def raw_request(
    url: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "POST",
    timeout: float = 30.0,
) -> int:
    """Send exactly these bytes over a fresh loopback connection; return the status code.

    HTTP client libraries refuse some of the headers a forger would send (leading spaces,
    raw non-ASCII bytes), so forged requests go out through a plain socket.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"{method} {parts.path or '/'} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
    lines += [name + b": " + value for name, value in headers]
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    status_line = received.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        # The server dropped the connection without an answer: count it as a server error.
        return 599
    return int(status_line[1])


@dataclass
class AppProcess:
    """A Slack app in its own OS process (tests/security/app_child.py)."""

    proc: Any
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except Exception:
                self.kill()


def spawn_app(
    db_url: str, standin_url: str, *, batch_size: int = 5, extra: tuple[str, ...] = ()
) -> AppProcess:
    """Start an app process over the store; wait (bounded) for it to listen."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.security.app_child", "--url", db_url,
         "--standin", standin_url, "--batch-size", str(batch_size), *extra],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded: the child prints READY or exits
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"the app process did not start (exit {proc.wait()}): {line!r}")
    return AppProcess(proc, int(line.split()[1]))


def spawn_fanout_worker(
    db_url: str, proposal_id: str, *, batch_size: int = 10, batch_pause_s: float = 0.0
) -> Any:
    """`tests/tools/fanout_child.py`: one fanout worker process (what `warden fanout run` does)."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "tests.tools.fanout_child", "--url", db_url,
         "--proposal", proposal_id, "--batch-size", str(batch_size),
         "--batch-pause-s", str(batch_pause_s)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def proposal_ref(proposal: Any, thread_id: str) -> str:
    from slackapp.blocks import ProposalRef

    return ProposalRef(
        proposal_id=proposal.id, action_hash=proposal.action_hash, thread_id=thread_id
    ).model_dump_json()


def decisions(store: Any, proposal_id: str) -> dict[str, int]:
    """Accepted decisions and executions of one proposal, counted from the audit trail."""
    from tools import audit

    out = {"approved": 0, "approval_recorded": 0, "rejected": 0, "refused": 0, "executing": 0}
    for event in audit.events(store, subject=f"proposal:{proposal_id}"):
        if event.outcome in out:
            out[event.outcome] += 1
    return out
