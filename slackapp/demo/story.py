"""The demo's chapters, in the order `make demo` plays them (each a module with `play(world)`)."""

from __future__ import annotations

from collections.abc import Callable

from slackapp.demo import answers, automation, casework, triage
from slackapp.demo.world import World

CHAPTERS: tuple[Callable[[World], None], ...] = (
    answers.play,
    automation.play,
    casework.play,
    triage.play,
)


def play(world: World) -> None:
    for chapter in CHAPTERS:
        chapter(world)
