"""`make demo`: the whole story on a fresh data folder, against a local Slack stand-in.

    python -m slackapp.demo [--home var/demo] [--llm]

Sets up a fresh WARDEN_HOME (var/demo), ingests the policies, loads the sample cases, starts
the real app in HTTP mode (uvicorn on loopback) against `slackapp.standin`, then plays what
specialists and approvers would do in Slack, signing every request as Slack does, and prints
what they would see. No-LLM mode unless --llm (and OPENAI_BASE_URL) is given.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slackapp.blocks import APPROVE, ESCALATE_CASE, render_text

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "CTRUSTSAFE"
CHANNEL_NAME = "#trust-safety"
PEOPLE = {
    "UANA00001": "ana (enforcement lead)",
    "UBEN00001": "ben (enforcement lead)",
    "UCHIDI001": "chidi (enforcement lead)",
    "UOWNER001": "dara (policy on-call)",
}
ANA, BEN, CHIDI = "UANA00001", "UBEN00001", "UCHIDI001"
CASE = "case-1001"
CLUSTER = "cl-hs-0417"
QUESTION = "does a meme comparing an ethnic group to rats violate Hateful Activities?"


def _name(user: str) -> str:
    return PEOPLE.get(user, user).split(" ")[0]


@dataclass
class Transcript:
    """Prints what Slack users would see, from the stand-in's record of Web API calls."""

    standin: Any
    seen: int = 0
    channel_names: dict[str, str] = field(default_factory=lambda: {CHANNEL: CHANNEL_NAME})
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        print(text, flush=True)

    def step(self, title: str) -> None:
        self.say(f"\n━━ {title} " + "━" * max(0, 70 - len(title)))

    def person(self, user: str, text: str) -> None:
        self.say(f"\n  {_name(user)} ▸ {text}")

    def _names(self, text: str) -> str:
        return re.sub(r"@([UW][A-Z0-9]{6,})", lambda m: "@" + _name(m.group(1)), text)

    def _where(self, args: dict[str, Any]) -> str:
        channel = str(args.get("channel", ""))
        name = self.channel_names.get(channel, channel)
        if channel.startswith(("U", "D")):
            name = f"DM to {_name('U' + channel[1:])}"
        return name + (" › thread" if args.get("thread_ts") else "")

    def flush(self) -> None:
        calls = self.standin.calls[self.seen :]
        self.seen += len(calls)
        for call in calls:
            args = call.args
            if call.status != 200:
                self.say(f"    (Slack answered {call.status} to {call.method}; the app retries)")
            elif call.method == "chat.postMessage":
                self.say(f"\n  Warden ▸ {self._where(args)}")
                self._block(args.get("blocks"), args.get("text", ""))
            elif call.method == "chat.update":
                text = str(args.get("text", ""))
                if text.startswith("Executing"):
                    line = next(
                        (
                            ln
                            for ln in render_text(args.get("blocks")).splitlines()
                            if "applied" in ln
                        ),
                        text,
                    )
                    self.say(f"    ↻ card updated: {line.strip()}")
                else:
                    self.say("    ↻ card updated:")
                    self._block(args.get("blocks"), text)
            elif call.method == "chat.postEphemeral":
                self.say(
                    f"    (only {_name(str(args.get('user')))} sees) Warden ▸ {args.get('text')}"
                )
            elif call.method == "views.open":
                self.say("    (modal opened)")
            elif call.method == "views.publish":
                self.say(f"\n  App Home of {_name(str(args.get('user_id')))}:")
                self._block(args["view"]["blocks"], "")

    def _block(self, blocks: Any, fallback: str) -> None:
        text = self._names(render_text(blocks, fallback=fallback))
        for line in text.splitlines():
            self.say("    │ " + line)


def _card(standin: Any, text_prefix: str) -> dict[str, Any]:
    """The latest message Warden posted whose fallback text starts with `text_prefix`."""
    for (channel, ts), message in sorted(standin.messages.items(), key=lambda kv: -float(kv[0][1])):
        if str(message.get("text", "")).startswith(text_prefix):
            return {**message, "channel": channel, "ts": ts}
    raise RuntimeError(f"no card starting with {text_prefix!r} was posted")


def _button(card: dict[str, Any], action_id: str) -> str:
    for block in card.get("blocks", []):
        if block.get("type") == "actions":
            for element in block["elements"]:
                if element["action_id"] == action_id:
                    return str(element["value"])
    raise RuntimeError(f"the card has no {action_id} button")


def run(home: Path, *, llm: bool = False) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from agent.backend import ToolsBackend
    from agent.service import build_warden
    from knowledge.catalogue import load_catalogue
    from knowledge.index import ingest
    from slackapp.app import build_app
    from slackapp.driver import SlackDriver
    from slackapp.http import start_in_thread
    from slackapp.standin import StandIn
    from tools import gates as gates_module
    from tools.cases import load_sample
    from tools.gateway import build_gateway
    from tools.store import build_store
    from warden.settings import Settings

    began = time.monotonic()
    # A fresh folder every run: the demo is safe to run twice and never touches var/ itself.
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    secret = secrets.token_hex(16)
    with StandIn(users={k: _name(k) for k in PEOPLE}) as standin:
        overrides: dict[str, Any] = {
            "WARDEN_HOME": home,
            "WARDEN_DATABASE_URL": None,
            "WARDEN_CHROMA_URL": None,
            "WARDEN_EMBEDDINGS_URL": None,
            "SLACK_BOT_TOKEN": "xoxb-demo-local",
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": standin.url,
            "WARDEN_APPROVERS": [ANA, BEN, CHIDI],
            "WARDEN_APPROVER_USERGROUP": None,
        }
        if not llm:
            overrides["OPENAI_BASE_URL"] = None
        settings = Settings(**overrides)
        print(
            f"Warden demo · data folder {home} · {'LLM' if settings.llm_enabled else 'no-LLM'} mode"
        )
        from knowledge.embeddings import build_embedder
        from knowledge.retrieval import build_retriever

        embedder = build_embedder(settings)  # loaded once, shared by ingest and retrieval
        report = ingest(settings.policies_dirs, settings=settings, embedder=embedder)
        print(f"  policies indexed: {report}")
        store = build_store(settings)
        catalogue = load_catalogue(settings.catalogue_dir)
        sample = load_sample(store, catalogue)
        print(
            f"  sample loaded: {sample.cases} cases, {sample.accounts} accounts, "
            f"{sample.clusters} detector clusters"
        )
        gates = gates_module.load_gates(settings.gates_file)
        gate = gates_module.check(store, gates, "HA", 400)
        # The real gate keeps HA in shadow mode until an evaluation passes; a fresh demo folder
        # has none, so the demo runs the agent without the gate to show the approval flow.
        backend = ToolsBackend(
            store, catalogue, gateway=build_gateway(settings, store.engine), gates=None
        )
        warden = build_warden(
            settings,
            store=store,
            catalogue=catalogue,
            backend=backend,
            retriever=build_retriever(settings, embedder=embedder),
        )
        slack = build_app(settings, warden=warden, store=store)
        server = start_in_thread(slack.asgi())
        driver = SlackDriver(
            server.endpoint, secret, response_url_base=standin.url.replace("/api/", "/respond/")
        )
        print(f"  app: HTTP mode on {server.endpoint} · Slack Web API stand-in on {standin.url}")
        print(f"  set-up took {time.monotonic() - began:.0f} s")
        t = Transcript(standin)
        t.seen = len(standin.calls)
        try:
            _story(t, driver, slack, standin, gate.reason)
        finally:
            driver.close()
            server.stop()
            slack.drain(60)
            slack.close()
            warden.close()
            store.close()
    print(f"\nDemo finished in {time.monotonic() - began:.0f} s. Data folder: {home}")
    return 0


def _story(t: Transcript, driver: Any, slack: Any, standin: Any, gate_reason: str) -> None:
    def settle() -> None:
        if not slack.drain(120):
            raise RuntimeError("the app did not finish its work within 2 minutes")
        t.flush()

    t.step("1. A policy question, in a thread")
    t.person(ANA, f"@Warden {QUESTION}   (in {CHANNEL_NAME})")
    driver.mention(QUESTION, user=ANA, channel=CHANNEL)
    settle()

    t.step(f"2. A recommendation for {CASE}")
    t.person(ANA, f"/warden recommend {CASE}")
    response = driver.command(f"recommend {CASE}", user=ANA, channel=CHANNEL)
    t.say(f"    (only ana sees, at once) Warden ▸ {response.text}")
    settle()

    t.step("3. Escalation from the recommendation card")
    card = _card(standin, "Recommendation for")
    t.person(ANA, "clicks [ Escalate ] on the recommendation")
    driver.click(
        ESCALATE_CASE, _button(card, ESCALATE_CASE), user=ANA, channel=CHANNEL, message=card
    )
    settle()

    t.step(f"4. A bulk proposal for detector cluster {CLUSTER}")
    t.say(f"    (note) automation gate for HA says: {gate_reason}")
    t.say("    (note) the demo runs the agent without the gate so the approval flow can be shown;")
    t.say("           in production the policy team's evaluation decides (`warden gates`).")
    t.person(ANA, f"/warden propose {CLUSTER} remove")
    driver.command(f"propose {CLUSTER} remove", user=ANA, channel=CHANNEL)
    settle()
    card = _card(standin, "Proposal ")
    value = _button(card, APPROVE)

    t.step("5. The requester tries to approve her own proposal")
    t.person(ANA, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=ANA, channel=CHANNEL, message=card)
    settle()

    t.step("6. An approver sees it in App Home, then approves")
    t.person(BEN, "opens Warden's App Home")
    driver.home_opened(user=BEN)
    settle()
    t.person(BEN, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=BEN, channel=CHANNEL, message=card)
    settle()

    t.step("7. Second approver: the proposal executes, with progress")
    t.person(CHIDI, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=CHIDI, channel=CHANNEL, message=card)
    settle()

    t.step("8. A stale click after execution")
    t.person(BEN, "clicks [ Approve ] again on an old copy of the card")
    driver.click(APPROVE, value, user=BEN, channel=CHANNEL, message=card)
    settle()

    t.step("9. App Home afterwards")
    t.person(BEN, "opens Warden's App Home")
    driver.home_opened(user=BEN)
    settle()


def main() -> None:
    parser = argparse.ArgumentParser(description="Play Warden's story against a local Slack.")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "demo")
    parser.add_argument("--llm", action="store_true", help="use OPENAI_BASE_URL if it is set")
    args = parser.parse_args()
    sys.exit(run(args.home.resolve(), llm=args.llm))


if __name__ == "__main__":
    main()
