"""`make demo`: the whole story on a fresh data folder, against a local Slack stand-in.

    python -m slackapp.demo [--home var/demo] [--llm]

Sets up a fresh WARDEN_HOME (var/demo), ingests the policies, loads the sample cases, starts
the real app in HTTP mode (uvicorn on loopback) against `slackapp.standin`, then plays what
specialists and approvers would do in Slack, signing every request as Slack does, and prints
what they would see. No-LLM mode unless --llm (and OPENAI_BASE_URL) is given.

The bulk proposal goes through the real automation gate (tools/gates.yaml keeps HA in shadow
mode until a stored evaluation passes): before it, the policy on-call runs the evaluation
harness (the code path of `warden eval`, no-LLM) on Warden's own labelled set
tools/sample/labelled/ha_eval.jsonl, and switches HA to `propose` with `tools.gates.set_mode`,
which refuses unless the stored figures meet the gate's thresholds.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
OWNER = "UOWNER001"
EVAL_SET = ROOT / "tools" / "sample" / "labelled" / "ha_eval.jsonl"


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
        # The real gates, as `warden serve` loads them: HA stays in shadow mode until a stored
        # evaluation passes (step 4 of the story runs one).
        gates = gates_module.load_gates(settings.gates_file)
        backend = ToolsBackend(
            store, catalogue, gateway=build_gateway(settings, store.engine), gates=gates
        )
        warden = build_warden(
            settings,
            store=store,
            catalogue=catalogue,
            gates=gates,
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
            _story(t, driver, slack, standin, lambda: _open_gate(t, settings, store, gates))
        finally:
            driver.close()
            server.stop()
            slack.drain(60)
            slack.close()
            warden.close()
            store.close()
    print(f"\nDemo finished in {time.monotonic() - began:.0f} s. Data folder: {home}")
    return 0


def _shown(path: Path | str) -> str:
    """A path as a reader would type it from the repository root."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Embed the evaluation's queries on one CPU thread, as `warden eval` does.

    One short query per case: several intra-op threads only contend on a small machine.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _open_gate(t: Transcript, settings: Any, store: Any, gates: Any) -> bool:
    """Try to switch HA to propose, run the evaluation, try again. True when the gate opened.

    Nothing here is staged: the first attempt is refused by `set_mode` itself (a fresh folder
    has no evaluation), the figures are whatever the harness measures, and the second attempt
    is again `set_mode`'s own check against the thresholds of the gates file.
    """
    rule = gates.rule("HA")
    t.say(
        f"    (note) gates file {_shown(gates.source)}: HA is in {rule.mode.value} mode, so a "
        "proposal would only be\n"
        "           recorded, not posted for approval. Switching to propose needs a stored "
        "evaluation\n"
        f"           with precision >= {rule.min_precision:.2f} on >= {rule.min_support} "
        "labelled HA positives."
    )
    if _switch_to_propose(t, store, gates, first=True):
        return True
    _evaluate_ha(t, settings, store)
    return _switch_to_propose(t, store, gates, first=False)


def _switch_to_propose(t: Transcript, store: Any, gates: Any, *, first: bool) -> bool:
    """`warden gates set HA propose`, through the real check; the transcript says what happened."""
    from tools.gates import GateClosed, GateMode, set_mode

    t.person(OWNER, "$ warden gates set HA propose")
    try:
        decision = set_mode(store, gates, "HA", GateMode.PROPOSE, actor=OWNER)
    except GateClosed as exc:
        t.say(f"    {exc}")
        if not first:
            t.say(
                "    (note) the measured figures do not meet the gate's thresholds, so HA stays "
                "in shadow mode:\n"
                "           the proposal below is recorded in shadow, not posted for approval."
            )
        return False
    t.say(f"    Done: HA is in propose mode. {decision.reason}")
    t.say(
        f"    (note) HA proposals of up to {decision.rule.max_batch_size} actions are now posted "
        "for human approval;\n"
        "           nothing is ever executed without the approvers."
    )
    return True


def _evaluate_ha(t: Transcript, settings: Any, store: Any) -> Any:
    """`warden eval` on Warden's own labelled HA set: the real harness, stored. Returns the run."""
    from ops.evaluate import agent_recommender, evaluate, save_run
    from ops.loaders import load_dataset
    from ops.mappings import detect_mapping

    mapping = detect_mapping(EVAL_SET)
    rows = load_dataset(EVAL_SET, mapping)
    positives = sum(1 for r in rows if r.label("HA"))
    t.person(OWNER, f"$ warden eval {_shown(EVAL_SET)}")
    # Always no-LLM, as `warden eval` without OPENAI_BASE_URL: the catalogue's signal rules
    # decide, so the figures are the same on every run of the demo.
    no_llm = settings.model_copy(update={"openai_base_url": None})
    recommend, mode, model = agent_recommender(no_llm, store)
    t.say(
        f"    {len(rows)} labelled cases: {positives} violating HA, {len(rows) - positives} "
        "non-violating look-alikes\n"
        f"    (news, education, counter-speech, reclaimed use, satire); {mode} mode, no LLM"
    )
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % 96 == 0 or done == len(rows):
            t.say(f"    … {done}/{len(rows)} cases")

    with _one_torch_thread():
        run = evaluate(
            rows,
            recommend,
            dataset=EVAL_SET.name,
            mapping=mapping.name,
            mode=mode,
            model=model,
            progress=progress,
        )
    save_run(store, run)
    ha = run.metrics.policy("HA")
    outcomes = run.metrics.outcomes
    t.say(f"    │ run {run.id} stored ({run.seconds:.0f} s)")
    t.say(
        f"    │ HA precision {_figure(ha.precision)} · recall {_figure(ha.recall)} · "
        f"support {ha.support} labelled positives"
    )
    t.say(
        f"    │ the rules would act on {ha.predicted} cases: {ha.tp} violations, {ha.fp} "
        "look-alikes (false positives)"
    )
    t.say(
        f"    │ {ha.fn} violations not acted on: answered borderline (left to a specialist) "
        "or escalated"
    )
    t.say(
        f"    │ all answers: {outcomes.get('violating', 0)} violating, "
        f"{outcomes.get('abstained', 0)} borderline, {outcomes.get('escalated', 0)} escalated, "
        f"{outcomes.get('not_violating', 0)} not violating"
    )
    return run


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _story(
    t: Transcript, driver: Any, slack: Any, standin: Any, open_gate: Callable[[], bool]
) -> None:
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

    t.step("4. Before automating HA: the gate asks for an evaluation")
    opened = open_gate()

    t.step(f"5. A bulk proposal for detector cluster {CLUSTER}")
    t.person(ANA, f"/warden propose {CLUSTER} remove")
    driver.command(f"propose {CLUSTER} remove", user=ANA, channel=CHANNEL)
    settle()
    if not opened:
        t.say("\n(The gate stayed closed, so there is no proposal to approve; the demo ends here.)")
        return
    card = _card(standin, "Proposal ")
    value = _button(card, APPROVE)

    t.step("6. The requester tries to approve her own proposal")
    t.person(ANA, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=ANA, channel=CHANNEL, message=card)
    settle()

    t.step("7. An approver sees it in App Home, then approves")
    t.person(BEN, "opens Warden's App Home")
    driver.home_opened(user=BEN)
    settle()
    t.person(BEN, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=BEN, channel=CHANNEL, message=card)
    settle()

    t.step("8. Second approver: the proposal executes, with progress")
    t.person(CHIDI, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=CHIDI, channel=CHANNEL, message=card)
    settle()

    t.step("9. A stale click after execution")
    t.person(BEN, "clicks [ Approve ] again on an old copy of the card")
    driver.click(APPROVE, value, user=BEN, channel=CHANNEL, message=card)
    settle()

    t.step("10. App Home afterwards")
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
