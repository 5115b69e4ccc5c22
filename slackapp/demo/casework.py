"""Chapter: a specialist's own case work. Ana claims case-1036 from the critical-harms queue and
removes it as her own decision from the recommendation card (no automation gate: GV is not
automated, and a person's decision never needs it); the strike the catalogue gives a removal and
what it leads to appear; the account appeals; Ana may not judge her own decision, Ben overturns
it: the pin is restored on the platform and the strike is gone. Ben also clears case-1042 as not
violating. The chapter ends with the handling-time figures `warden cases stats` prints.
"""

from __future__ import annotations

from slackapp.blocks import DECIDE
from slackapp.demo.world import ANA, BEN, CHANNEL, World, button, card, name_of
from tools import appeals, casework
from tools.gateway import build_gateway
from tools.strikes import account_report
from warden.errors import WardenError
from warden.identity import SettingsDirectory

CASE = "case-1036"
ACCOUNT = "acct-1023"
CONTENT = "case-1036-item"
QUIET_CASE = "case-1042"


def _standing(world: World) -> None:
    report = account_report(world.store, world.catalogue, ACCOUNT)
    world.t.say(f"    {ACCOUNT}: status {report.status}")
    for strike in report.active_strikes:
        world.t.say(
            f"    · strike {strike.section_id} weight {strike.weight}, "
            f"expires {strike.expires_at:%Y-%m-%d}"
        )
    if not report.active_strikes:
        world.t.say("    · no active strike")
    for line in report.standing:
        world.t.say(f"    · {line}")


def play(world: World) -> None:
    t, store, catalogue = world.t, world.store, world.catalogue
    directory = SettingsDirectory(world.settings)

    t.step("The critical-harms queue, and a claim")
    earlier = casework.get_work(store, catalogue, CASE)
    if earlier.status not in ("new", "in_review"):
        # `make demo` again in the same data folder: cases are decided once.
        t.say(
            f"    {CASE} was already worked in an earlier run in this data folder "
            f"({earlier.status}, decided by {name_of(earlier.decided_by or '-')}); delete the "
            "folder to replay this chapter."
        )
        _stats(world)
        return
    t.person(ANA, "warden cases queue --pod critical-harms")
    for entry in casework.queue(store, catalogue, pod="critical-harms")[:4]:
        held = f"held by {name_of(entry.claimed_by)}" if entry.claimed_by else "unclaimed"
        t.say(f"    {entry.priority}  {entry.case_id}  {entry.policy_id}  {held}")
    t.person(ANA, f"warden cases claim {CASE}")
    work = casework.claim(store, catalogue, CASE, actor=ANA, directory=directory)
    t.say(f"    {CASE} claimed by {name_of(work.claimed_by or '')}; status {work.status}")
    try:
        casework.claim(store, catalogue, CASE, actor=BEN, directory=directory)
    except WardenError as exc:
        t.person(BEN, f"warden cases claim {CASE}")
        t.say(f"    refused: {exc}")

    t.step(f"Ana decides {CASE} herself, from the recommendation card")
    t.person(ANA, f"/warden recommend {CASE}")
    driver = world.driver
    response = driver.command(f"recommend {CASE}", user=ANA, channel=CHANNEL)
    t.say(f"    (only ana sees, at once) Warden ▸ {response.text}")
    world.settle()
    shown = card(world.standin, "Recommendation for")
    t.person(ANA, "clicks [ Apply as my decision ] — her decision, no gate, no second approver")
    driver.click(DECIDE, button(shown, DECIDE), user=ANA, channel=CHANNEL, message=shown)
    world.settle()
    _standing(world)

    t.step("The account appeals; only someone uninvolved decides")
    t.say(f"  (the platform, for {ACCOUNT}) ▸ warden appeal file {CASE} --reason '…'")
    appeal = appeals.file_appeal(
        store, catalogue, CASE, reason="The cat was a prop on a film set; nobody hurt an animal."
    )
    t.say(
        f"    appeal {appeal.id} queued for {appeal.pod}, due {appeal.sla_due_at:%Y-%m-%d %H:%M}"
        f" UTC; {CASE} is {casework.get_work(store, catalogue, CASE).status}"
    )
    gateway = build_gateway(world.settings, store.engine)
    t.person(ANA, f"warden appeal decide {appeal.id} --uphold --reason '…'")
    try:
        appeals.decide_appeal(
            store, catalogue, gateway, appeal.id, actor=ANA, outcome="upheld", reason="mine"
        )
    except WardenError as exc:
        t.say(f"    refused: {exc}")
    t.person(BEN, f"warden appeal decide {appeal.id} --overturn --reason '…'")
    outcome = appeals.decide_appeal(
        store,
        catalogue,
        gateway,
        appeal.id,
        actor=BEN,
        outcome="overturned",
        reason="The uploader showed the production notes; the scene was staged.",
    )
    for line in outcome.summary():
        t.say(f"    {line}")
    target = getattr(gateway, "target", None)
    if target is not None:
        state = target("content", CONTENT)
        restored = state is not None and state.removals == 0
        t.say(f"    platform: {CONTENT} {'restored' if restored else 'still removed'}")
    _standing(world)

    t.step("Ben clears a case as not violating; handling time")
    t.person(BEN, f"warden cases claim {QUIET_CASE}")
    casework.claim(store, catalogue, QUIET_CASE, actor=BEN, directory=directory)
    t.person(BEN, f"warden cases decide {QUIET_CASE} --not-violating --reason '…'")
    quiet = casework.decide(
        store,
        catalogue,
        None,
        QUIET_CASE,
        actor=BEN,
        verdict="not_violating",
        reason="Regional flags at a town parade; not the flagged symbol.",
        directory=directory,
    )
    t.say(f"    {QUIET_CASE}: {quiet.case.decision}, {quiet.case.status}")
    _stats(world)


def _stats(world: World) -> None:
    t = world.t
    t.person(ANA, "warden cases stats")
    figures = casework.stats(world.store)
    for label, d in (("time to first claim", figures.time_to_claim),
                     ("handling time (claim -> decision)", figures.handling)):  # fmt: skip
        t.say(
            f"    {label}: median {d.median_minutes} min ({d.median_seconds} s), "
            f"p90 {d.p90_minutes} min ({d.p90_seconds} s), {d.n} cases"
        )
