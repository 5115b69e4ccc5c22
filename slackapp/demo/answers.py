"""Chapter: a policy question in a thread, a recommendation, an escalation from its card."""

from __future__ import annotations

from slackapp.blocks import ESCALATE_CASE
from slackapp.demo.world import ANA, CHANNEL, CHANNEL_NAME, World, button, card

CASE = "case-1001"
QUESTION = "does a meme comparing an ethnic group to rats violate Hateful Activities?"


def play(world: World) -> None:
    t, driver = world.t, world.driver
    t.step("A policy question, in a thread")
    t.person(ANA, f"@Warden {QUESTION}   (in {CHANNEL_NAME})")
    driver.mention(QUESTION, user=ANA, channel=CHANNEL)
    world.settle()

    t.step(f"A recommendation for {CASE}")
    t.person(ANA, f"/warden recommend {CASE}")
    response = driver.command(f"recommend {CASE}", user=ANA, channel=CHANNEL)
    t.say(f"    (only ana sees, at once) Warden ▸ {response.text}")
    world.settle()

    t.step("Escalation from the recommendation card")
    shown = card(world.standin, "Recommendation for")
    t.person(ANA, "clicks [ Escalate ] on the recommendation")
    driver.click(
        ESCALATE_CASE, button(shown, ESCALATE_CASE), user=ANA, channel=CHANNEL, message=shown
    )
    world.settle()
