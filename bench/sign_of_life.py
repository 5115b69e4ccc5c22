"""Time from a request to Warden's first visible sign of life, per kind of request.

    python -m bench.sign_of_life [--n 40] [--answer-s 2.0]

The real app in HTTP mode (uvicorn on loopback) against the Slack stand-in, with an agent that
takes `--answer-s` seconds per answer (as a model would) and streams tokens. Requests arrive in
bursts of eight, so answers queue behind each other as they would under load. The first sign
of life is, per kind:

- mention / DM / assistant thread: the first Web API call for that thread that a person sees
  (assistant.threads.setStatus, reactions.add, chat.startStream or chat.postMessage);
- slash command: the HTTP response (Slack shows its "Working on…" text at once).

Prints median and p99 in milliseconds for each kind.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

VISIBLE = (
    "assistant.threads.setStatus",
    "reactions.add",
    "chat.startStream",
    "chat.postMessage",
)


class SlowAgent:
    """An agent that takes `delay_s` per answer and streams it (issue 12's on_token)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def handle(self, request: Any, *, on_token: Any = None) -> Any:
        from agent.interface import PolicyAnswer

        time.sleep(self.delay_s)
        if on_token is not None:
            for word in ("A", "short", "answer."):
                on_token(word + " ")
        return PolicyAnswer(text="A short answer.", citations=[], mode="llm")

    def resume(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(n: int, answer_s: float) -> dict[str, list[float]]:
    from slackapp.app import build_app
    from slackapp.driver import SlackDriver
    from slackapp.http import start_in_thread
    from slackapp.standin import StandIn
    from tools.store import Store
    from warden.settings import Settings

    secret = "bench-signing-secret"
    results: dict[str, list[float]] = {"mention": [], "dm": [], "command": [], "assistant": []}
    with tempfile.TemporaryDirectory() as tmp, StandIn() as standin:
        store = Store.open(f"sqlite:///{Path(tmp) / 'warden.db'}")
        settings = Settings(
            WARDEN_HOME=Path(tmp),
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=standin.url,
            WARDEN_APPROVERS=["UAPPROVER1"],
        )
        slack = build_app(settings, warden=SlowAgent(answer_s), store=store)
        server = start_in_thread(slack.asgi())
        driver = SlackDriver(
            server.endpoint, secret, response_url_base=standin.url.replace("/api/", "/respond/")
        )

        def first_visible(channel: str, thread_ts: str, since: int) -> float | None:
            for call in standin.calls[since:]:
                args = call.args
                if (
                    call.method in VISIBLE
                    and (args.get("thread_ts") == thread_ts or args.get("timestamp") == thread_ts)
                    and args.get("channel", args.get("channel_id")) == channel
                ):
                    return call.at
            return None

        def one(kind: str, i: int) -> None:
            channel = {"mention": "CBENCH001", "dm": f"DBENCH{i:04d}"}.get(kind, f"DAST{i:05d}")
            since = len(standin.calls)
            sent = time.time()
            if kind == "command":
                response = driver.command("ask what is hateful?", user="UBENCH001", channel="CB1")
                assert response.status_code == 200
                results[kind].append((time.time() - sent) * 1000)
                return
            if kind == "mention":
                _, ts = driver.mention("what is hateful?", user="UBENCH001", channel=channel)
                thread = ts
            elif kind == "dm":
                _, ts = driver.dm("what is hateful?", user="UBENCH001", channel=channel)
                thread = ts
            else:
                thread = f"{2000 + i}.000001"
                driver.event(
                    {
                        "type": "message",
                        "channel_type": "im",
                        "user": "UBENCH001",
                        "text": "what is hateful?",
                        "ts": f"{2000 + i}.000002",
                        "thread_ts": thread,
                        "channel": channel,
                        "event_ts": f"{2000 + i}.000002",
                    }
                )
            deadline = time.time() + 30
            while time.time() < deadline:
                seen = first_visible(channel, thread, since)
                if seen is not None:
                    results[kind].append((seen - sent) * 1000)
                    return
                time.sleep(0.002)
            raise RuntimeError(f"{kind} {i}: no sign of life within 30 s")

        try:
            for kind in results:
                for burst in range(0, n, 8):
                    threads = [
                        threading.Thread(target=one, args=(kind, i))
                        for i in range(burst, min(n, burst + 8))
                    ]
                    for th in threads:
                        th.start()
                    for th in threads:
                        th.join()
                slack.drain(120)
        finally:
            driver.close()
            server.stop()
            slack.drain(60)
            slack.close()
            store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="requests per kind")
    parser.add_argument("--answer-s", type=float, default=2.0, help="seconds per answer")
    args = parser.parse_args()
    results = run(args.n, args.answer_s)
    print(f"sign of life, {args.n} requests per kind, answers take {args.answer_s:.1f} s:")
    for kind, values in results.items():
        print(
            f"  {kind:<10} median {statistics.median(values):7.1f} ms   "
            f"p99 {_percentile(values, 0.99):7.1f} ms   (n={len(values)})"
        )


if __name__ == "__main__":
    main()
