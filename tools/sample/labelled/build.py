"""Regenerate Warden's own labelled Hateful Activities set: `python -m tools.sample.labelled.build`.

Writes `ha_eval.jsonl` here, in the evaluation harness's own format (`ops.loaders.OwnRow`): one
full case per line plus `expected_policy` ("HA" or null), `expected_action` and a `group` (the
section a reviewer filed it under). `warden eval tools/sample/labelled/ha_eval.jsonl` scores it;
`make demo` runs it before switching HA to `propose`.

Everything here was written for Warden (no public data): texts read like a reviewer's note about
the content, never the content itself, and no slur is spelled out. Rows pair violating content
(HA-2.x) with non-violating look-alikes (HA-3.x: educational, counter-speech, reclaimed use,
satire, news), and carry the upstream detector scores a real pipeline would attach. The scores
are deliberately imperfect: some violating rows come with weak scores (the rules cannot act on
them, so recall drops), and some look-alikes come with scores above a catalogue rule's threshold
(the rules act on them wrongly, so precision drops). The figures the harness reports are
therefore measured, not 1.0 by construction. A fixed seed keeps the file reproducible.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "ha_eval.jsonl"
SEED = 20261122
OPENED = "2026-10-{day:02d}T{hour:02d}:{minute:02d}:00Z"

# Who the content is about. Described, never named with an insult.
GROUPS = [
    "a religious minority",
    "an ethnic group",
    "immigrants from one region",
    "a national origin group",
    "disabled people",
    "gay and lesbian people",
    "transgender people",
    "a caste community",
    "Black people",
    "Jewish people",
    "Muslim people",
    "Roma people",
]

# The surface a note describes, by its first word; anything else is a pin.
SURFACES = {"comment": "comment", "reply": "comment", "board": "board", "profile": "profile"}


@dataclass(frozen=True)
class Kind:
    """One kind of content a reviewer files under a section, and how detectors tend to score it.

    `signals` name each detector and its usual score band (low, high). `off` rows of the kind get
    the `off_signals` bands instead: for violations, scores below every catalogue rule (as real
    detectors under-score paraphrased, cropped or coded content); for look-alikes, scores above
    a rule's threshold (as detectors over-score quoted or historical material).
    """

    section: str
    violating: bool
    notes: list[str]
    signals: dict[str, tuple[float, float]]
    off_signals: dict[str, tuple[float, float]]
    off: int
    reports: list[str]
    count: int


# Violating (HA-2.x). "{g}" is a described group; each note is a reviewer's description.
VIOLATING = [
    Kind(
        "HA-2.3",
        True,
        [
            "Pin image shows the emblem of a banned hate group on a flag, captioned as a "
            "recruitment call aimed at {g}'s neighbours.",
            "Photo of a tattoo combining a supremacist sun-wheel and a coded number, posted with "
            "a caption celebrating it; no commentary or context.",
            "Sticker design repeating a hate group's insignia, offered as a free download with "
            "the line 'put these up where {g} live'.",
            "Profile banner built from a supremacist rune set and a slogan glorifying the group "
            "that used it; the account posts nothing else.",
            "Edited photo placing a hate group's emblem over a place of worship used by {g}, "
            "captioned as a warning.",
            "Merch listing for a jacket patch with a hate emblem and the group's motto, "
            "described as 'for the movement'.",
            "Wallpaper pack of hateful imagery: the insignia of a banned organisation in "
            "several colours with a celebratory caption.",
            "Board cover image is a hate group's logo; the board title praises the group.",
        ],
        {"hate_symbol": (0.81, 0.995), "hate": (0.35, 0.75)},
        {"hate_symbol": (0.52, 0.79), "hate": (0.2, 0.55)},
        7,
        ["hate symbol", "hateful imagery", "extremist logo"],
        70,
    ),
    Kind(
        "HA-2.1",
        True,
        [
            "Meme compares {g} to vermin spreading disease; the caption says they should be "
            "'cleared out'.",
            "Cartoon draws {g} as insects swarming a city, captioned as a warning to 'real' "
            "residents.",
            "Comment calls {g} animals rather than people and says they cannot be civilised.",
            "Image macro likens {g} to a plague and invites others to share it widely.",
            "Post describes {g} as parasites living off everyone else, with no context beyond "
            "the insult.",
            "Video thumbnail shows {g} with animal features added, captioned as a 'nature "
            "documentary'.",
        ],
        {"hate_speech": (0.9, 0.99), "hate": (0.72, 0.97)},
        {"hate_speech": (0.45, 0.85), "hate": (0.3, 0.66)},
        5,
        ["dehumanising", "hate speech", "hateful"],
        50,
    ),
    Kind(
        "HA-2.2",
        True,
        [
            "Comment directs a slur (masked by the reviewer) at {g} and says they are all "
            "criminals by nature.",
            "Reply attacks another user for being one of {g}, using an insult (masked) about "
            "their identity.",
            "Post claims {g} are intellectually inferior and should not be hired, repeated "
            "across several pins.",
            "Caption mocks {g} with a well-known slur (masked) and a stereotype about hygiene.",
            "Board description insults {g} as a whole and urges followers to harass them.",
        ],
        {"hate": (0.9, 0.99)},
        {"hate": (0.4, 0.69)},
        4,
        ["slur", "hate speech", "harassment of a group"],
        45,
    ),
    Kind(
        "HA-2.4",
        True,
        [
            "Board 'Keep the district clean' argues {g} should be barred from renting homes in "
            "the area.",
            "Post calls for {g} to be banned from voting and from holding public office.",
            "Flyer design demands separate schools so children never mix with {g}.",
            "Comment says employers should refuse to hire {g} and lists 'reasons'.",
        ],
        {"hate": (0.86, 0.99)},
        {"hate": (0.45, 0.69)},
        4,
        ["calls for exclusion", "discrimination", "hateful"],
        35,
    ),
    Kind(
        "HA-2.6",
        True,
        [
            "Meme claims {g} secretly control the banks and the press, with a coded number "
            "sequence in the corner.",
            "Post shares a conspiracy chart tying {g} to a plot to 'replace' the population.",
            "Profile uses triple-bracket markings around names to single out {g} for followers.",
        ],
        {"hate": (0.9, 0.98), "hate_symbol": (0.3, 0.7)},
        {"hate": (0.5, 0.69), "hate_symbol": (0.2, 0.5)},
        3,
        ["coded hate", "conspiracy", "antisemitic"],
        20,
    ),
    Kind(
        "HA-2.5",
        True,
        [
            "Comment says someone should 'pay a visit' to a community centre used by {g} this "
            "weekend and names the street.",
            "Post urges followers to 'make {g} afraid to leave home', with a date attached.",
        ],
        {"hate/threatening": (0.82, 0.97), "hate": (0.85, 0.98)},
        {"hate/threatening": (0.4, 0.75), "hate": (0.5, 0.69)},
        2,
        ["threat", "violent threat against a group"],
        8,
    ),
]

# Non-violating look-alikes (HA-3.x and news reporting, which HA-3.1 covers).
LOOKALIKES = [
    Kind(
        "HA-3.1",
        False,
        [
            "Museum pin: a 1930s propaganda poster behind glass, with the curator's note on how "
            "it was used against {g}.",
            "History lesson board explaining where a hate group's emblem came from and how to "
            "recognise it; images are captioned and blurred.",
            "News photo of a rally where the emblem of a banned group is visible; the caption "
            "reports the arrests that followed.",
            "Documentary still showing graffiti of a hate symbol being painted over by "
            "volunteers, captioned with the town's response.",
            "Teacher's worksheet on recognising coded hate numbers online, aimed at parents.",
        ],
        {"hate_symbol": (0.45, 0.79), "hate": (0.1, 0.5)},
        {"hate_symbol": (0.8, 0.9), "hate": (0.2, 0.5)},
        2,
        ["hate symbol", "hateful imagery"],
        22,
    ),
    Kind(
        "HA-3.2",
        False,
        [
            "Comment condemns people who compare {g} to animals and asks others to report them.",
            "Post quotes an insult aimed at {g} (masked) only to explain why it hurts and how to "
            "respond.",
            "Board collects resources for {g} facing harassment, including examples of abuse to "
            "report.",
            "Reply calls out a hateful meme about {g} and shares a fact check.",
        ],
        {"hate": (0.3, 0.68)},
        {"hate": (0.7, 0.82)},
        2,
        ["hate speech", "hateful"],
        18,
    ),
    Kind(
        "HA-3.3",
        False,
        [
            "Member of {g} uses a reclaimed term (masked) about themselves in a pride post.",
            "Profile bio of an artist from {g} uses a reclaimed word (masked) as a self-label.",
            "Comedy pin by a performer from {g} joking about a stereotype aimed at their own "
            "community.",
        ],
        {"hate": (0.25, 0.66)},
        {"hate": (0.7, 0.78)},
        1,
        ["slur", "offensive"],
        10,
    ),
    Kind(
        "HA-3.4",
        False,
        [
            "Satirical cartoon mocking a hate group's leader, with the group's emblem shown "
            "crossed out.",
            "Art project reworking a hateful propaganda poster into a message of welcome for {g}.",
            "Political commentary comparing a politician's speech to historical propaganda, "
            "with no attack on {g}.",
        ],
        {"hate_symbol": (0.4, 0.78), "hate": (0.2, 0.6)},
        {"hate_symbol": (0.8, 0.88), "hate": (0.2, 0.5)},
        1,
        ["hate symbol", "offensive"],
        10,
    ),
]


def _score(rng: random.Random, band: tuple[float, float]) -> float:
    low, high = band
    return round(rng.uniform(low, high), 2)


def _row(rng: random.Random, number: int, kind: Kind, index: int, off: bool) -> dict[str, Any]:
    note = kind.notes[index % len(kind.notes)]
    group = GROUPS[(index * 5 + len(kind.notes)) % len(GROUPS)]
    surface = SURFACES.get(note.split(" ", 1)[0].lower(), "pin")
    case_id = f"ha-eval-{number:04d}"
    bands = kind.off_signals if off else kind.signals
    signals = {name: _score(rng, band) for name, band in bands.items()}
    text = note.format(g=group)
    reports = rng.sample(kind.reports, k=rng.randint(0, min(2, len(kind.reports))))
    case = {
        "id": case_id,
        "opened_at": OPENED.format(day=1 + number % 28, hour=number % 24, minute=(number * 7) % 60),
        "items": [
            {
                "id": f"{case_id}-item",
                "kind": surface,
                "author_id": f"eval-acct-{number:04d}",
                "text": text,
                "media_description": None,
            }
        ],
        "reports": [
            {"reporter_id": f"eval-reporter-{(number * 3 + i) % 97:02d}", "reason": reason}
            for i, reason in enumerate(reports)
        ],
        "signals": signals,
        "source": "classifier" if not reports else "user_report",
    }
    return {
        "id": case_id,
        "case": case,
        "expected_policy": "HA" if kind.violating else None,
        # The reviewer's decision: violating content comes down; threats too (plus escalation).
        "expected_action": "remove" if kind.violating else None,
        "group": kind.section,
    }


def build() -> list[dict[str, Any]]:
    """Every row, violating and look-alike kinds interleaved so any prefix is mixed."""
    rng = random.Random(SEED)
    queue: list[tuple[Kind, int, bool]] = []
    for kind in [*VIOLATING, *LOOKALIKES]:
        off = set(rng.sample(range(kind.count), kind.off))
        queue += [(kind, i, i in off) for i in range(kind.count)]
    rng.shuffle(queue)
    return [_row(rng, number, kind, i, off) for number, (kind, i, off) in enumerate(queue, start=1)]


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    positives = sum(1 for r in rows if r["expected_policy"])
    print(f"wrote {len(rows)} rows ({positives} violating, {len(rows) - positives} not) to {OUT}")


if __name__ == "__main__":
    main()
