"""The app's side of the webhook kill -9 test, as its own (killable) process.

`python -m tests.api.outbox_child --url DB --hook URL --secret S --start N --events M` writes
events N..M-1 (each in its own transaction, with its audit row, as an approval or an action
would) while the deliverer runs in a thread, exactly as `warden serve` runs it. `--events 0`
only delivers. The test kills it with SIGKILL at random points and starts it again.
"""

from __future__ import annotations

import argparse
import time

from tools import audit
from tools.outbox import Deliverer
from tools.store import Store
from warden.integrations import EventType, WebhookSubscriber

CASES = 7


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--hook", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--pause-s", type=float, default=0.002)
    args = parser.parse_args()
    store = Store.open(args.url)
    hook = WebhookSubscriber(
        name="receiver",
        url=args.hook,
        secret=args.secret,
        events=frozenset({EventType.ACTION_APPLIED}),
    )
    Deliverer(store, [hook], interval_s=0.01, timeout_s=5).start()  # runs until the kill
    print("READY", flush=True)
    for n in range(args.start, args.events):
        # An audited event that maps to a webhook: its outbox row commits with the audit row.
        audit.record(
            store,
            actor="fanout:child",
            verb="action.applied",
            subject=f"content:item-{n}:remove",
            source="fanout",
            outcome="applied",
            details={"case_id": f"C-{n % CASES}", "n": n, "action": "remove"},
        )
        time.sleep(args.pause_s)
    while True:  # keep delivering until the test is satisfied (or kills us)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
