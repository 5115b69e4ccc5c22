"""What every chapter of the demo shares: the people, the Slack stand-in, the transcript.

A chapter is a module with `play(world)`; `slackapp.demo.story.CHAPTERS` orders them. Steps
number themselves, so a new chapter never renumbers the others.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slackapp.blocks import render_text

ROOT = Path(__file__).resolve().parent.parent.parent
CHANNEL = "CTRUSTSAFE"
CHANNEL_NAME = "#trust-safety"
PEOPLE = {
    "UANA00001": "ana (enforcement lead)",
    "UBEN00001": "ben (enforcement lead)",
    "UCHIDI001": "chidi (enforcement lead)",
    "UOWNER001": "dara (policy on-call)",
}
ANA, BEN, CHIDI = "UANA00001", "UBEN00001", "UCHIDI001"
OWNER = "UOWNER001"
APPROVER_GROUP = "S0APPROVE1"  # @enforcement-leads: ana, ben, chidi
ONCALL_GROUP = "S0ONCALL01"  # @ts-oncall (the catalogue's on_call_group): dara


def route_channels(catalogue: Any) -> dict[str, str]:
    """A channel id for every escalation channel the catalogue names (name -> id)."""
    names = sorted(
        {
            name.lstrip("#")
            for p in catalogue.policies.values()
            for name in (p.escalation.channel, p.escalation.on_call_channel)
        }
    )
    return {name: f"C{i:03d}{name.upper().replace('-', '')[:8]}" for i, name in enumerate(names)}


GROUP_NAMES = {"S0APPROVE1": "enforcement-leads", "S0ONCALL01": "ts-oncall"}


def name_of(user: str) -> str:
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

    steps: int = 0

    homes_shown: set[str] = field(default_factory=set)

    def step(self, title: str) -> None:
        self.homes_shown.clear()
        self.steps += 1
        heading = f"{self.steps}. {title}"
        self.say(f"\n━━ {heading} " + "━" * max(0, 70 - len(heading)))

    def person(self, user: str, text: str) -> None:
        self.say(f"\n  {name_of(user)} ▸ {text}")

    def _names(self, text: str) -> str:
        text = re.sub(r"@([UW][A-Z0-9]{6,})", lambda m: "@" + name_of(m.group(1)), text)
        text = re.sub(
            r"<!subteam\^(S[A-Z0-9]+)>",
            lambda m: "@" + GROUP_NAMES.get(m.group(1), m.group(1)),
            text,
        )
        return re.sub(
            r"<#([CGD][A-Z0-9]+)>", lambda m: self.channel_names.get(m.group(1), m.group(1)), text
        )

    def _where(self, args: dict[str, Any]) -> str:
        channel = str(args.get("channel", ""))
        name = self.channel_names.get(channel, channel)
        if channel.startswith(("U", "D")):
            name = f"DM to {name_of('U' + channel[1:])}"
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
                who = name_of(str(args.get("user")))
                if args.get("blocks") and len(render_text(args["blocks"]).splitlines()) > 1:
                    self.say(f"\n  (only {who} sees) Warden ▸")
                    self._block(args["blocks"], str(args.get("text", "")))
                else:
                    self.say(f"    (only {who} sees) Warden ▸ {args.get('text')}")
            elif call.method == "views.open":
                title = ((args.get("view") or {}).get("title") or {}).get("text", "")
                self.say(f"    (modal opened: {title})" if title else "    (modal opened)")
            elif call.method == "reactions.add":
                self.say(f"    (Warden reacts :{args.get('name')}: — it is on it)")
            elif call.method == "views.publish":
                user = str(args.get("user_id"))
                # Each change republishes App Home: shown in full once per step, then noted.
                if user in self.homes_shown:
                    self.say(f"    ↻ App Home of {name_of(user)} refreshed")
                else:
                    self.homes_shown.add(user)
                    self.say(f"\n  App Home of {name_of(user)}:")
                    self._block(args["view"]["blocks"], "")

    def _block(self, blocks: Any, fallback: str) -> None:
        text = self._names(render_text(blocks, fallback=fallback))
        for line in text.splitlines():
            self.say("    │ " + line)


def card(standin: Any, text_prefix: str) -> dict[str, Any]:
    """The latest message Warden posted whose fallback text starts with `text_prefix`."""
    for (channel, ts), message in sorted(standin.messages.items(), key=lambda kv: -float(kv[0][1])):
        if str(message.get("text", "")).startswith(text_prefix):
            return {**message, "channel": channel, "ts": ts}
    raise RuntimeError(f"no card starting with {text_prefix!r} was posted")


def button(card: dict[str, Any], action_id: str) -> str:
    for block in card.get("blocks", []):
        if block.get("type") == "actions":
            for element in block["elements"]:
                if element["action_id"] == action_id:
                    return str(element["value"])
    raise RuntimeError(f"the card has no {action_id} button")


@dataclass
class World:
    """Everything a chapter acts on, built once by `slackapp.demo.run`."""

    t: Transcript
    driver: Any  # slackapp.driver.SlackDriver, signing every request as Slack does
    slack: Any  # slackapp.app.SlackApp under test (HTTP mode on loopback)
    standin: Any  # slackapp.standin.StandIn: the Slack Web API
    settings: Any
    store: Any
    catalogue: Any
    gates: Any
    notes: dict[str, Any] = field(default_factory=dict)  # what one chapter leaves the next

    def settle(self) -> None:
        """Wait for the app's background work, then print what Slack received."""
        if not self.slack.drain(120):
            raise RuntimeError("the app did not finish its work within 2 minutes")
        self.t.flush()
