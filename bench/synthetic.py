"""A synthetic, policy-like corpus of any size, and cheap vectors for it.

Embedding 100k chunks with MiniLM on two shared CPU cores takes far longer than the bench may
run, so only a pool of short policy-like sentences is embedded for real; each chunk is three
sentences of one topic and its vector is the normalised mean of their real vectors plus a
little deterministic noise. The text is written as ordinary markdown and goes through Warden's
own ingest (parsing, chunking, Chroma and lexical writes); only the embedding call is replaced.
Queries are embedded for real at query time.

The wording here is the bench's own (no third-party policy text).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from warden.errors import InputError

CONTENT = ["Pins", "Comments", "Boards", "Profile bios", "Ads", "Listings", "Messages", "Videos"]
CONTEXTS = [
    "the account is less than a week old",
    "several people reported it within an hour",
    "the caption praises what is shown",
    "it names or tags a private person",
    "it is posted without any added commentary",
    "it links to a site outside the platform",
    "the same image appears on dozens of boards",
    "the author already has an active strike",
    "it is framed as a joke but targets a real person",
    "it was uploaded by a verified merchant",
]
ACTIONS = [
    "label",
    "limit the distribution of",
    "remove",
    "strike the author of",
    "suspend the account behind",
]
TEMPLATES = [
    "{content} that {behaviour} are removed under this rule.",
    "Reviewers {action} {content_l} showing {example} when {context}.",
    "A first finding of {example} leads us to {action} the content; a repeat adds a strike.",
    "{content} that {exception} are allowed, even when they show {example}.",
    "When {context}, send {content_l} about {example} to the {pod} pod.",
    "Borderline: {example} where {context}; label it rather than remove it.",
    "Automation may {action} {content_l} that {behaviour} only above the precision gate.",
    "Count {example} in {content_l} toward the ninety day strike window.",
]
QUERY_TEMPLATES = [
    "is {example} in {content_l} against the {name} rules?",
    "do we {action} {content_l} that {behaviour}?",
    "what if {context} and it shows {example}?",
    "{name}: is it allowed when the point is to {exception}?",
    "which section covers {example}, and who handles it?",
]


@dataclass(frozen=True)
class Topic:
    name: str
    pod: str
    behaviours: tuple[str, ...]
    examples: tuple[str, ...]
    exceptions: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "Hateful conduct",
        "critical harms",
        (
            "compare a protected group to animals or disease",
            "call for excluding people because of their religion",
            "use coded symbols of hate groups",
        ),
        (
            "a cartoon of migrants drawn as rats",
            "a slur printed on a t-shirt",
            "a flag of a hate group",
        ),
        ("document the history of a hate movement", "reclaim a slur within the group it targets"),
    ),
    Topic(
        "Graphic violence",
        "critical harms",
        (
            "show severe injuries in close detail",
            "celebrate a recent attack",
            "show animals being hurt for entertainment",
        ),
        (
            "a photo of a bloody crash scene",
            "footage of a street fight",
            "a hunting trophy close-up",
        ),
        ("report news with a warning screen", "teach first aid with medical imagery"),
    ),
    Topic(
        "Violent extremism",
        "critical harms",
        (
            "recruit for a designated terrorist group",
            "share the manifesto of an attacker",
            "glorify the perpetrators of a massacre",
        ),
        ("a logo of a banned militia", "a recruitment poster", "a livestream clip of an attack"),
        ("analyse extremist propaganda for research", "report on terrorism in a news context"),
    ),
    Topic(
        "Child safety",
        "child safety",
        (
            "sexualise minors in any way",
            "groom young people into private chats",
            "share images of children with predatory comments",
        ),
        ("a comment asking a teen for private photos", "a board of school photos", "a grooming DM"),
        ("promote child safety education", "share family photos without sexual framing"),
    ),
    Topic(
        "Self-injury",
        "wellbeing",
        (
            "encourage self-harm or disordered eating",
            "give instructions for suicide",
            "present extreme weight loss as a goal",
        ),
        ("a thinspiration board", "a photo of fresh cuts", "a fasting challenge"),
        ("share a recovery story", "point people to support lines"),
    ),
    Topic(
        "Harassment",
        "trust",
        (
            "insult or threaten a private individual",
            "encourage others to pile on a person",
            "share someone's private details to shame them",
        ),
        (
            "a meme mocking a classmate by name",
            "repeated hostile comments",
            "a doctored photo of a coworker",
        ),
        ("criticise a public figure's policies", "discuss bullying in general terms"),
    ),
    Topic(
        "Adult content",
        "integrity",
        (
            "show explicit sexual activity",
            "advertise paid sexual services",
            "display nudity outside an artistic context",
        ),
        ("a link to an adult cam site", "a nude selfie", "an explicit drawing"),
        ("show classical nude art", "teach breastfeeding or health topics"),
    ),
    Topic(
        "Regulated goods",
        "marketplace",
        (
            "sell firearms or ammunition",
            "offer prescription drugs without a prescription",
            "promote recreational drugs for sale",
        ),
        ("a listing for pills shipped overnight", "a ghost gun kit", "a vape sold to teens"),
        ("discuss harm reduction", "show legal hunting gear in a store catalogue"),
    ),
    Topic(
        "Spam",
        "integrity",
        (
            "post the same link repeatedly across boards",
            "use fake engagement to boost reach",
            "mislead people about where a link goes",
        ),
        (
            "a pin redirecting to a malware page",
            "hundreds of identical comments",
            "a bought follower pack",
        ),
        ("share a genuine shop link once", "cross-post your own content with disclosure"),
    ),
    Topic(
        "Misinformation",
        "integrity",
        (
            "spread false health cures",
            "misrepresent how or when to vote",
            "present manipulated media as real",
        ),
        ("a pin claiming a tea cures cancer", "a fake polling date", "a deepfake of a politician"),
        ("label satire clearly", "debunk a false claim with sources"),
    ),
    Topic(
        "Privacy",
        "trust",
        (
            "expose someone's home address",
            "share intimate images without consent",
            "publish private documents about a person",
        ),
        ("a screenshot of a passport", "a map pin of a private home", "a leaked medical record"),
        ("share your own details by choice", "report public records in the public interest"),
    ),
    Topic(
        "Advertising claims",
        "ads review",
        (
            "promise guaranteed income",
            "make unproven medical claims in an ad",
            "target minors with alcohol ads",
        ),
        (
            "an ad for a miracle diet patch",
            "a get-rich-quick crypto ad",
            "a beer ad aimed at teens",
        ),
        ("state verifiable product facts", "show licensed financial products with disclosures"),
    ),
    Topic(
        "Merchant integrity",
        "marketplace",
        (
            "sell counterfeit branded goods",
            "misrepresent shipping times or refunds",
            "list items the merchant does not own",
        ),
        ("replica designer sneakers", "a store that never ships orders", "stolen product photos"),
        ("resell genuine second-hand items", "sell clearly labelled inspired-by designs"),
    ),
)


def _sentences(topic: Topic) -> list[str]:
    """Every sentence the templates give for one topic, in a fixed order."""
    out: list[str] = []
    for template in TEMPLATES:
        for content, behaviour, example, exception, context, action in itertools.product(
            CONTENT[:4], topic.behaviours, topic.examples, topic.exceptions, CONTEXTS[:3], ACTIONS
        ):
            sentence = template.format(
                content=content,
                content_l=content.lower(),
                behaviour=behaviour,
                example=example,
                exception=exception,
                context=context,
                action=action,
                pod=topic.pod,
            )
            out.append(sentence)
    return list(dict.fromkeys(out))


@dataclass
class SentencePool:
    """Short policy-like sentences per topic; the only text embedded for real."""

    by_topic: dict[str, list[str]]

    @property
    def all(self) -> list[str]:
        return [s for sentences in self.by_topic.values() for s in sentences]


def sentence_pool(per_topic: int, *, topics: int = len(TOPICS), seed: int = 8) -> SentencePool:
    rng = random.Random(seed)
    by_topic: dict[str, list[str]] = {}
    for topic in TOPICS[:topics]:
        candidates = _sentences(topic)
        by_topic[topic.name] = rng.sample(candidates, min(per_topic, len(candidates)))
    return SentencePool(by_topic)


@dataclass
class SyntheticCorpus:
    """Markdown files on disk plus the chunk bodies written into them."""

    root: Path
    files: list[Path] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)


def write_corpus(
    root: Path, pool: SentencePool, n_chunks: int, *, per_file: int = 250, seed: int = 8
) -> SyntheticCorpus:
    """Write `n_chunks` sections (three sentences of one topic each) as markdown policy files."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    corpus = SyntheticCorpus(root)
    topics = list(pool.by_topic)
    by_name = {t.name: t for t in TOPICS}
    used: set[tuple[str, ...]] = set()
    n_files = max(1, -(-n_chunks // per_file))
    made = 0
    for file_no in range(n_files):
        topic = topics[file_no % len(topics)]
        sentences = pool.by_topic[topic]
        lines = [f"# {topic} (synthetic policy {file_no:05d})", ""]
        for section_no in range(min(per_file, n_chunks - made)):
            for _ in range(1000):
                triple = tuple(rng.sample(sentences, 3))
                if triple not in used:
                    break
            else:  # the pool is too small for this many distinct chunks
                raise InputError(
                    f"synthetic pool of {len(sentences)} sentences for {topic!r} cannot give "
                    f"{n_chunks} distinct chunks; raise the pool size"
                )
            used.add(triple)
            body = " ".join(triple)
            heading = rng.choice(by_name[topic].behaviours).capitalize()
            lines += [f"## Rule {file_no}.{section_no + 1}: {heading}", ""]
            lines += [body, ""]
            corpus.bodies.append(body)
            made += 1
        path = root / f"synthetic-{file_no:05d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        corpus.files.append(path)
    return corpus


def queries(pool: SentencePool, n: int, *, seed: int) -> list[str]:
    """Distinct specialist-style questions over the pool's topics (no query repeats)."""
    rng = random.Random(seed)
    names = list(pool.by_topic)
    by_name = {t.name: t for t in TOPICS}
    out: dict[str, None] = {}
    while len(out) < n:
        topic = by_name[rng.choice(names)]
        q = rng.choice(QUERY_TEMPLATES).format(
            example=rng.choice(topic.examples),
            content_l=rng.choice(CONTENT).lower(),
            name=topic.name,
            action=rng.choice(ACTIONS),
            behaviour=rng.choice(topic.behaviours),
            context=rng.choice(CONTEXTS),
            exception=rng.choice(topic.exceptions),
        )
        if q in out:
            q = f"{q} ({len(out)})"
        out[q] = None
    return list(out)


Vector = NDArray[np.float32]
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_WORD_ONLY = re.compile(r"[a-z0-9'-]+")  # a vocabulary word, as ingest embeds them


class MixtureEmbedder:
    """Embeds a synthetic chunk as the normalised mean of its sentences' real vectors.

    Stands in for the embedding model during the synthetic ingest only; it follows the
    `Embedder` protocol (`embed_documents`, `embed_query`) so Warden's ingest path is unchanged.
    """

    def __init__(
        self,
        sentence_vectors: dict[str, Vector],
        *,
        query_embedder: Callable[[str], list[float]],
        name: str,
        noise: float = 0.03,
        words: Callable[[list[str]], NDArray[np.float32]] | None = None,
    ) -> None:
        self.name = name
        self._vectors = sentence_vectors
        self._query = query_embedder
        self._noise = noise
        # The real model for the vocabulary ingest embeds (single words, not pool sentences).
        self._words = words
        self.calls = 0

    def _one(self, text: str) -> list[float]:
        found = [self._vectors[s] for s in self._split(text) if s in self._vectors]
        if not found:
            raise InputError(
                "synthetic chunk has none of the pool's sentences (did the chunker rewrite "
                f"the text?): {text[:120]!r}"
            )
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
        dim = found[0].shape[0]
        noise = np.random.default_rng(seed).standard_normal((dim,), dtype=np.float32)
        mixed: Vector = np.stack(found).mean(axis=0, dtype=np.float32)
        mixed = mixed + np.float32(self._noise / np.sqrt(dim)) * noise
        return [float(x) for x in mixed / np.linalg.norm(mixed)]

    def _split(self, text: str) -> list[str]:
        pieces: list[str] = []
        for line in text.splitlines():
            for piece in _SENTENCE_END.split(line.strip()):
                pieces.append(piece)
                # a heading path the chunker prepended on the same line: keep its tail too
                if ": " in piece:
                    pieces.append(piece.rsplit(": ", 1)[1])
        return pieces

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self._words is not None and texts and all(_WORD_ONLY.fullmatch(t) for t in texts):
            return [[float(x) for x in row] for row in self._words(list(texts))]
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._query(text)
