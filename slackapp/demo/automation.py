"""Chapter: automating HA. The gate asks for an evaluation, the harness runs on Warden's own
labelled set (tools/sample/labelled/ha_eval.jsonl, no-LLM), `tools.gates.set_mode` opens the gate
through its real check, then a detector submits a bulk proposal for its cluster through the HTTP
API; two approvers approve it in Slack, it executes with progress, and the platform's webhook
receiver shows the signed events it got.

Nothing here is staged: the first `set_mode` is refused by the check itself (a fresh folder has
no evaluation), the figures are whatever the harness measures, and the second attempt is again
`set_mode`'s own check against the thresholds of the gates file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slackapp.blocks import APPROVE
from slackapp.demo.integrations import show_webhooks, submit_cluster
from slackapp.demo.world import (
    ANA,
    BEN,
    CHIDI,
    OWNER,
    ROOT,
    Transcript,
    World,
    button,
    card,
)

CLUSTER = "cl-hs-0417"
EVAL_SET = ROOT / "tools" / "sample" / "labelled" / "ha_eval.jsonl"


def shown(path: Path | str) -> str:
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


def open_gate(t: Transcript, settings: Any, store: Any, gates: Any) -> bool:
    """Try to switch HA to propose, run the evaluation, try again. True when the gate opened.

    Nothing here is staged: the first attempt is refused by `set_mode` itself (a fresh folder
    has no evaluation), the figures are whatever the harness measures, and the second attempt
    is again `set_mode`'s own check against the thresholds of the gates file.
    """
    rule = gates.rule("HA")
    t.say(
        f"    (note) gates file {shown(gates.source)}: HA is in {rule.mode.value} mode, so a "
        "proposal would only be\n"
        "           recorded, not posted for approval. Switching to propose needs a stored "
        "evaluation\n"
        f"           with precision >= {rule.min_precision:.2f} on >= {rule.min_support} "
        "labelled HA positives."
    )
    if switch_to_propose(t, store, gates, first=True):
        return True
    evaluate_ha(t, settings, store)
    return switch_to_propose(t, store, gates, first=False)


def switch_to_propose(t: Transcript, store: Any, gates: Any, *, first: bool) -> bool:
    """`warden gates set HA propose`, through the real check; the transcript says what happened."""
    from tools.gates import GateClosed, GateMode, SecondPersonNeeded, set_mode

    t.person(OWNER, "$ warden gates set HA propose")
    try:
        try:
            decision = set_mode(store, gates, "HA", GateMode.PROPOSE, actor=OWNER)
        except SecondPersonNeeded as exc:
            t.say(f"    {exc}")
            t.person(BEN, "$ warden gates set HA propose")
            decision = set_mode(store, gates, "HA", GateMode.PROPOSE, actor=BEN)
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


def evaluate_ha(t: Transcript, settings: Any, store: Any) -> Any:
    """`warden eval` on Warden's own labelled HA set: the real harness, stored. Returns the run."""
    from ops.evaluate import agent_recommender, evaluate, save_run
    from ops.loaders import load_dataset
    from ops.mappings import detect_mapping

    mapping = detect_mapping(EVAL_SET)
    rows = load_dataset(EVAL_SET, mapping)
    positives = sum(1 for r in rows if r.label("HA"))
    t.person(OWNER, f"$ warden eval {shown(EVAL_SET)}")
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
        f"    │ HA precision {figure(ha.precision)} · recall {figure(ha.recall)} · "
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


def figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def play(world: World) -> None:
    t, driver, standin = world.t, world.driver, world.standin
    t.step("Before automating HA: the gate asks for an evaluation")
    opened = open_gate(t, world.settings, world.store, world.gates)

    t.step(f"Detector {CLUSTER}: a bulk proposal through the HTTP API")
    submit_cluster(world, CLUSTER)
    world.settle()
    if not opened:
        t.say("\n(The gate stayed closed, so there is no proposal to approve; the chapter ends.)")
        return
    proposal = card(standin, "Proposal ")
    value, pod = button(proposal, APPROVE), proposal["channel"]

    t.step("An approver sees it in App Home, then approves")
    t.person(BEN, "opens Warden's App Home")
    driver.home_opened(user=BEN)
    world.settle()
    t.person(BEN, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=BEN, channel=pod, message=proposal)
    world.settle()

    t.step("The same approver clicks again: one approver counts once")
    t.person(BEN, "clicks [ Approve ] again (and confirms)")
    driver.click(APPROVE, value, user=BEN, channel=pod, message=proposal)
    world.settle()

    t.step("Second approver: the proposal executes, with progress")
    t.person(CHIDI, "clicks [ Approve ] (and confirms)")
    driver.click(APPROVE, value, user=CHIDI, channel=pod, message=proposal)
    world.settle()

    t.step("A stale click after execution")
    t.person(ANA, "clicks [ Approve ] on an old copy of the card")
    driver.click(APPROVE, value, user=ANA, channel=pod, message=proposal)
    world.settle()

    t.step("App Home afterwards")
    t.person(BEN, "opens Warden's App Home")
    driver.home_opened(user=BEN)
    world.settle()

    t.step("What the platform's webhook receiver got")
    show_webhooks(world)
