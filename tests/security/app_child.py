"""One Slack app process (HTTP mode under uvicorn) over a shared store, for kill -9 and race tests.

`python -m tests.security.app_child --url DB_URL --standin SLACK_API_URL` builds the real app
(`slackapp.app.build_app`) over the store with the Slack tests' scripted agent (real proposals and
a real fanout on the local platform, `batch_size` actions per batch), listens on a free loopback
port and prints `READY <port>`. Its logs go to var/security-child-<session>-<pid>.log (scanned).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the store's SQLAlchemy URL")
    parser.add_argument("--standin", required=True, help="the Slack Web API stand-in URL")
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument(
        "--batch-pause-s",
        type=float,
        default=0.0,
        help="pause between batches, so a test's kill lands mid-fanout on a fast machine",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="run the reminder loop, as `warden serve` does"
    )
    parser.add_argument(
        "--clock-offset-s",
        type=float,
        default=0.0,
        help="the app's clock runs this far ahead (so a crash looks long past to the sweep)",
    )
    args = parser.parse_args(argv)

    from tests.security.conftest import app_settings, session_log

    log_path = session_log("child", os.getpid())
    handler = logging.FileHandler(log_path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    for name in ("slackapp", "tools", "slack_bolt", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.DEBUG)

    from knowledge.catalogue import load_catalogue
    from slackapp.app import build_app
    from slackapp.http import start_in_thread
    from tests.slackapp.conftest import ScriptedWarden
    from tools.fanout import execute
    from tools.gateway import LocalPlatform
    from tools.store import Store

    store = Store.open(args.url, migrate=False)
    catalogue = load_catalogue()

    def paced(progress):  # type: ignore[no-untyped-def]
        if not args.batch_pause_s:
            return progress

        def report(update):  # type: ignore[no-untyped-def]
            if progress is not None:
                progress(update)
            time.sleep(args.batch_pause_s)

        return report

    class ChildWarden(ScriptedWarden):
        """The Slack tests' agent stand-in, with a configurable fanout batch size."""

        def resume(self, thread_id, decision, progress=None):  # type: ignore[no-untyped-def]
            if decision.decision != "approve":
                return super().resume(thread_id, decision, progress)
            from agent.interface import ProposalOutcome

            result = execute(
                store,
                LocalPlatform(store.engine),
                decision.proposal_id,
                catalogue=catalogue,
                progress=paced(progress),
                batch_size=args.batch_size,
            )
            return ProposalOutcome(
                proposal_id=decision.proposal_id,
                status=result.status,
                applied=result.applied,
                failed=result.failed,
            )

    from datetime import UTC, datetime, timedelta

    from slackapp.reminders import ReminderLoop

    offset = timedelta(seconds=args.clock_offset_s)
    app = build_app(
        app_settings(args.standin),
        warden=ChildWarden(store, catalogue),
        store=store,
        progress_interval_s=0.5,
        clock=lambda: datetime.now(UTC) + offset,
    )
    server = start_in_thread(app.asgi())
    loop = ReminderLoop(app.runtime, app.client, interval_s=1.0).start() if args.sweep else None
    print(f"READY {server.port}", flush=True)
    # Serve until the parent kills us (kill -9 in the crash tests) or closes stdin.
    sys.stdin.read()
    if loop is not None:
        loop.stop()
    server.stop()
    app.drain(30)
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
