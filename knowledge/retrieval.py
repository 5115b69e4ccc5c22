"""Search the policy index: dense (Chroma, cosine), optionally fused with BM25 by RRF.

`Retriever.search` is what the agent, the CLI and the benchmarks call. It returns `Hit`s that carry
everything a citation needs (section id, heading path, policy id and version, source file) and
`approved`: whether the passage comes from an approved policy folder and agrees with the catalogue.
The agent cites only approved hits for policy statements, so `approved_only` defaults to True.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from knowledge.index import (
    UNIT_ID_SEPARATOR,
    build_chroma_client,
    collection_generation,
    fetch_all,
    lexical_dir,
    open_collection,
    units_name,
    vocabulary_name,
)
from warden.metrics import RETRIEVAL_SECONDS

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from knowledge.rerank import LLMReranker
    from warden.settings import Settings

log = logging.getLogger(__name__)

Mode = Literal["dense", "hybrid", "blend"]
DEFAULT_MODE: Mode = "blend"  # measured: see `warden retrieval-eval`
RRF_K = 60  # the constant from Cormack et al.; dampens the weight of the very first ranks
CANDIDATES = 30  # per side, before fusion
# blend mode (see Retriever._blend); the weight was chosen on hard_questions.jsonl
BLEND_POOL = 40  # chunks per side
UNIT_POOL = 100  # nearest units, each pointing to its chunk
BLEND_LEXICAL_WEIGHT = 0.3
BLEND_DOCUMENT_WEIGHT = 0.2  # how much the whole document's match lifts its passages
BLEND_NAME_WEIGHT = 0.6  # how much naming a document ("insta", "snap", "X") lifts its passages
BLEND_EXPANSION_WEIGHT = 0.1  # BM25 of the corpus words nearest the question (see `expansion`)
VOCABULARY_NEIGHBOURS = 20  # how many of those words
# The most a blend passage scores for matching the question (dense, BM25, its document and the
# expansion, each scaled to 0..1 per query); only a named document lifts it higher.
BLEND_MATCH_MAX = 1.0 + BLEND_DOCUMENT_WEIGHT + BLEND_EXPANSION_WEIGHT
NAME_MIN_COUNT = 5  # a capitalised word this frequent in one document may be one of its names
NAME_SHARE = 0.8  # ... when this share of its occurrences across all documents are in that one
NAME_CAPITALISED = 0.5  # ... and this share of them are capitalised inside a sentence
SHARED_TITLE = 0.5  # a title word is a name when this share of other titles say the rest of it
NAME_PREFIX = 5  # a question word this long that starts a name matches it ("insta")
WINDOW_CHARS = 2000  # a hit returns its section's neighbouring text up to this size
SECTION_CHARS = 2500  # ... and a lower-ranked window next to it joins it up to this size
NEAR_DUPLICATE = 0.9  # word-set Jaccard above which a lower-ranked passage is a copy
EXACT_ROWS = 20_000  # chunks + units up to which every vector is held and scored exactly
SMALL_INDEX = 5000  # below this many chunks Chroma's metadata filter costs little
OVERFETCH = 4  # on a large index, fetch at least this many times k unfiltered, filter here
MAX_FETCH = 3000  # beyond this a filtered Chroma query is cheaper than over-fetching
GENERATION_CHECK_S = 10.0  # how often a long-lived retriever looks for another process's ingest
# Generations written by ingests in this process: a retriever sees its own process's writes at once.
LOCAL_GENERATIONS: dict[str, str] = {}

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "under",
        "up",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_RAW_WORD = re.compile(r"[A-Za-z0-9]+")
_MID_CAPITAL = re.compile(r"(?<=[a-z0-9,;] )[A-Z][A-Za-z0-9]+")
# A whitespace token as leading punctuation, a word (without a possessive 's) and what trails it.
_TOKEN_PARTS = re.compile(r"(?P<lead>[^\w]*)(?P<core>\w+?)(?P<poss>['’]s?)?(?P<trail>[^\w]*)")
_MID_WORD = re.compile(r"(?<=[a-z0-9,;] )[A-Za-z][A-Za-z0-9]*")  # a word inside a sentence
_CAPITALISED = re.compile(r"[A-Z][a-z]")  # "Meta", not "CVV"
_CAMEL = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b")  # YouTube, TikTok, LinkedIn


class Hit(BaseModel):
    """One retrieved passage with what a citation needs."""

    section_id: str = Field(description="catalogue id (HA-2.1) or derived id (file:path#n)")
    title: str = Field(description="heading path, ' > '-joined")
    policy_id: str | None = Field(None, description="Warden policy id; None for other documents")
    policy_version: str | None = None
    source: str = Field(description="file the passage came from")
    text: str
    score: float = Field(description="cosine similarity (dense) or fused RRF score (hybrid)")
    approved: bool = Field(
        description="from an approved policy folder and consistent with the catalogue"
    )
    url: str | None = Field(None, description="the published policy (front matter `url`)")


def tokenize(text: str) -> list[str]:
    """Lower-case words minus stop words, endings folded ("threats" -> "threat")."""
    out: list[str] = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = word.split("'", 1)[0]
        if word in _STOPWORDS or len(word) < 2:
            continue
        out.append(_fold(word))
    return out


def _fold(word: str) -> str:
    # A light stemmer: enough to match "threatening"/"threats"/"threat" without a dependency.
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.endswith("ss"):
            return word[: -len(suffix)] + keep
    return word


class LexicalIndex:
    """BM25 over a collection's chunks, persisted next to the data folder.

    Rebuilt from the collection whenever its generation changes (after any ingest), so several
    replicas that share one Chroma server each keep a correct local copy.
    """

    def __init__(
        self,
        ids: list[str],
        metadatas: list[dict[str, Any]],
        documents: list[str],
        model: Any,
        doc_model: Any = None,
        vectors: np.ndarray[Any, np.dtype[np.float16]] | None = None,
        names: dict[str, list[int]] | None = None,
        proper: list[str] | None = None,
        vocabulary: tuple[list[str], np.ndarray[Any, np.dtype[np.float32]]] | None = None,
        units: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None = None,
    ) -> None:
        self.ids = ids
        # The chunks' embeddings (float16: half the memory, ample for ranking), so the blend can
        # score a passage BM25 found without asking Chroma for its vector.
        self.vectors = vectors
        self.metadatas = metadatas
        self.documents = documents
        self.model = model
        self.doc_model = doc_model  # BM25 over whole documents (one row per doc_key)
        self._position = {cid: i for i, cid in enumerate(ids)}
        n = len(ids)
        # Which document each row belongs to, and each row's place in it (for section windows).
        self._doc_codes, self.doc = _codes(str(m.get("doc_key", "")) for m in metadatas)
        self._place = {
            (int(self.doc[row]), int(m.get("ordinal", 0))): row for row, m in enumerate(metadatas)
        }
        # Name -> documents it names (see `document_names`); a question naming one is routed there.
        self.names = names if names is not None else document_names(metadatas, documents, self.doc)
        # The names that are proper nouns ("pinterest", "X"): left out of the dense query.
        self.proper = frozenset(
            proper
            if proper is not None
            else proper_names(metadatas, documents, self.doc, self.names)
        )
        # The corpus's own words with their embeddings (see `expansion`); the index's BM25
        # tokens for each, so an expansion costs no tokenizing at query time.
        words, vectors_ = vocabulary if vocabulary is not None else ([], None)
        known = getattr(model, "vocab_dict", None) or {}
        tokens = [[t for t in tokenize(w) if t in known] for w in words]
        keep = [i for i, found in enumerate(tokens) if found]
        self.vocabulary = [words[i] for i in keep]
        # A document's own name expands nothing (it routes instead).
        self.vocabulary_tokens = [[] if self._is_proper(words[i]) else tokens[i] for i in keep]
        self.vocabulary_vectors = (
            np.asarray(vectors_[keep], dtype=np.float32) if vectors_ is not None and keep else None
        )
        # A small index keeps every chunk's and unit's vector in memory (float32) and scores
        # them all exactly: no approximate-neighbour misses, the same ranking in every process.
        # (unit vectors, the chunk row of each unit); None above EXACT_ROWS or without units.
        self.units = units
        self._exact: np.ndarray[Any, np.dtype[np.float32]] | None = None
        if vectors is not None and len(ids) + (len(units[1]) if units else 0) <= EXACT_ROWS:
            self._exact = np.asarray(vectors, dtype=np.float32)
        # Filter columns as arrays, so a filtered query costs vector operations, not a Python loop.
        self.approved = np.fromiter((bool(m.get("approved")) for m in metadatas), bool, n)
        self.current = np.fromiter((bool(m.get("is_current")) for m in metadatas), bool, n)
        # Policy ids and versions as integer codes: comparing ints is vectorised, strings are not.
        self._policy_codes, self.policy = _codes(str(m.get("policy_id", "")) for m in metadatas)
        self._version_codes, self.version = _codes(
            str(m.get("policy_version", "")) for m in metadatas
        )

    @classmethod
    def from_collection(cls, coll: Any, vocabulary: Any = None, units: Any = None) -> LexicalIndex:
        """Build from a chunks collection (and its vocabulary and units collections, when there
        are; units only for an index small enough to score exactly, see EXACT_ROWS)."""
        import bm25s

        rows: list[Any] = []
        ids, metas, docs = fetch_all(coll, documents=True, vectors=rows)
        vectors = np.asarray(rows, dtype=np.float16) if rows else None
        corpus = [
            tokenize(f"{m.get('doc_title', '')} {m.get('title', '')} {d}")
            for m, d in zip(metas, docs, strict=True)
        ]
        model = bm25s.BM25()
        doc_model = bm25s.BM25()
        if ids:
            model.index(corpus, show_progress=False)
            by_doc: dict[str, list[str]] = {}
            for meta, tokens in zip(metas, corpus, strict=True):
                by_doc.setdefault(str(meta.get("doc_key", "")), []).extend(tokens)
            doc_model.index(list(by_doc.values()), show_progress=False)
        words: tuple[list[str], Any] | None = None
        if vocabulary is not None:
            word_rows: list[Any] = []
            word_ids, _, _ = fetch_all(vocabulary, documents=False, vectors=word_rows)
            if word_ids:
                words = ([str(w) for w in word_ids], np.asarray(word_rows, dtype=np.float32))
        unit_part = None
        if units is not None and ids and len(ids) + units.count() <= EXACT_ROWS:
            unit_rows: list[Any] = []
            unit_ids, _, _ = fetch_all(units, documents=False, vectors=unit_rows)
            position = {cid: i for i, cid in enumerate(ids)}
            parents = [position.get(str(u).rsplit(UNIT_ID_SEPARATOR, 1)[0], -1) for u in unit_ids]
            keep = [i for i, row in enumerate(parents) if row >= 0]
            if keep:
                unit_part = (
                    np.asarray(unit_rows, dtype=np.float32)[keep],
                    np.asarray([parents[i] for i in keep], dtype=np.int64),
                )
        return cls(ids, metas, docs, model, doc_model, vectors, vocabulary=words, units=unit_part)

    def named_documents(
        self, query: str, rows: list[int] | None = None
    ) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """Per row (of `rows`, or of the index), 1.0 when the question names the row's document
        (its title word, url host, an alias, a site it links to, a proper noun of its own), else
        0; None when none is named.

        A dictionary lookup per question word: cheap at any index size.
        """
        if not self.names:
            return None
        named: set[int] = set()
        for word in _RAW_WORD.findall(query):
            # One-letter names ("X") only as a capital standing alone; others in any case.
            key = word if len(word) == 1 else word.lower()
            if len(key) == 1 and not key.isupper():
                continue
            if len(key) == 1:
                named.update(self.names.get(key, ()))
                continue
            # Singular or plural of a name ("pin" for "pins", "pinner" for "pinners").
            for form in (key, key[:-1] if key.endswith("s") else f"{key}s"):
                named.update(self.names.get(form, ()))
        if not named:
            return None
        flags = np.zeros(len(self._doc_codes), dtype=np.float32)
        flags[sorted(named)] = 1.0
        per_row: np.ndarray[Any, np.dtype[np.float32]] = flags[_at(self.doc, rows)]
        return per_row

    def exact_dense(
        self, vector: list[float] | np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """Per row, the best cosine similarity of the chunk or any of its units to the query;
        None when the index is too large to hold (then Chroma's neighbour search is used)."""
        if self._exact is None:
            return None
        query = np.asarray(vector, dtype=np.float32)
        best: np.ndarray[Any, np.dtype[np.float32]] = self._exact @ query
        if self.units is not None:
            unit_vectors, unit_rows = self.units
            np.maximum.at(best, unit_rows, unit_vectors @ query)
        return best

    def dense_query(self, query: str) -> str:
        """The question as the embedder should see it: without the names of the documents.

        "a pin selling kidneys on pinterest" asks about organ trade; "pinterest" in the vector
        pulls it toward every passage that talks about Pinterest itself. The named document is
        found by `named_documents` and BM25 (which keep the whole question); the embedding gets
        the rest. A question that is little more than a name is embedded as it is.
        """
        if not self.proper:
            return query
        kept: list[str] = []
        dropped = False
        for token in re.split(r"(\s+)", query):
            match = _TOKEN_PARTS.fullmatch(token)
            if match and match["core"] and self._is_proper(match["core"]):
                dropped = True
                kept.append(match["trail"])  # "youtube," leaves its comma
                continue
            kept.append(token)
        if not dropped:
            return query
        text = "".join(kept)
        # a preposition left hanging where the name was ("... for me on pinterest")
        text = re.sub(r"\b(?:on|in|at|via|through|from|across)\s*(?=[?.!,;:)]|$)", "", text)
        text = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", text)).strip(" ,;:-—")
        return text if len(_WORD.findall(text.lower())) >= 3 else query

    def _is_proper(self, word: str) -> bool:
        if len(word) == 1:
            return word.isupper() and word in self.proper
        key = word.lower()
        forms = (key, key[:-1] if key.endswith("s") else key)
        return any(form in self.proper for form in forms)

    def expansion(
        self, vector: list[float] | np.ndarray[Any, Any], query: str
    ) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """BM25 scores of every row for the corpus words nearest the question's meaning.

        The question's vector is compared with the embedding of every word the documents use
        (one matrix product, no second embedding); the VOCABULARY_NEIGHBOURS nearest that the
        question does not already say ("angel dust" -> "pcp", "jabs" -> "vaccines") are scored
        by BM25. That finds a list item worded nothing like the question, which the dense side
        misses when the item is a small part of its chunk. None without a vocabulary.
        """
        if self.vocabulary_vectors is None or not self.ids:
            return None
        sims = self.vocabulary_vectors @ np.asarray(vector, dtype=np.float32)
        count = min(VOCABULARY_NEIGHBOURS, len(sims))
        nearest = np.argpartition(-sims, count - 1)[:count]
        said = set(tokenize(query))
        near = (token for i in nearest for token in self.vocabulary_tokens[int(i)])
        tokens = sorted({token for token in near if token not in said})
        if not tokens:
            return None
        expanded: np.ndarray[Any, np.dtype[np.float32]] = np.asarray(
            self.model.get_scores(tokens), dtype=np.float32
        )
        return expanded

    @classmethod
    def rebuild(
        cls, coll: Any, folder: Path, generation: str, vocabulary: Any = None, units: Any = None
    ) -> LexicalIndex:
        index = cls.from_collection(coll, vocabulary, units)
        index.save(folder, generation)
        return index

    def save(self, folder: Path, generation: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self.model.save(str(folder / "bm25"))
            self.doc_model.save(str(folder / "bm25-documents"))
        if self.vectors is not None:
            np.save(folder / "vectors.npy", self.vectors)
        if self.vocabulary_vectors is not None:
            np.save(folder / "vocabulary.npy", self.vocabulary_vectors.astype(np.float16))
        if self.units is not None:
            np.save(folder / "units.npy", self.units[0].astype(np.float16))
            np.save(folder / "unit-rows.npy", self.units[1])
        payload = {
            "generation": generation,
            "ids": self.ids,
            "metadatas": self.metadatas,
            "names": self.names,
            "proper": sorted(self.proper),
            "vocabulary": self.vocabulary,
            "units": self.units is not None,
        }
        (folder / "chunks.json").write_text(
            json.dumps({**payload, "documents": self.documents}), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path, generation: str) -> LexicalIndex | None:
        """The saved index if it matches `generation`, else None (the caller rebuilds)."""
        import bm25s

        manifest = folder / "chunks.json"
        if not manifest.is_file():
            return None
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            if data.get("generation") != generation:
                return None
            model = bm25s.BM25.load(str(folder / "bm25")) if data["ids"] else bm25s.BM25()
            doc_model = (
                bm25s.BM25.load(str(folder / "bm25-documents")) if data["ids"] else bm25s.BM25()
            )
            vectors = np.load(folder / "vectors.npy") if data["ids"] else None
            words = data.get("vocabulary") or []
            vocabulary = (words, np.load(folder / "vocabulary.npy")) if words else None
            units = (
                (np.load(folder / "units.npy"), np.load(folder / "unit-rows.npy"))
                if data.get("units")
                else None
            )
        except (OSError, ValueError, KeyError) as exc:
            log.warning("lexical index in %s unreadable (%s); rebuilding", folder, exc)
            return None
        if vectors is not None and len(vectors) != len(data["ids"]):
            return None
        if vocabulary is not None and len(vocabulary[1]) != len(vocabulary[0]):
            return None
        if units is not None and len(units[0]) != len(units[1]):
            return None
        return cls(
            data["ids"],
            data["metadatas"],
            data["documents"],
            model,
            doc_model,
            vectors,
            data.get("names"),
            data.get("proper"),
            vocabulary,
            units,
        )

    def document_scores(
        self, query: str, rows: list[int] | None = None
    ) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """Per row (of `rows`, or of the index), how well the row's whole document matches
        `query` (0..1; None: no terms).

        A question that names a platform or its own words ("pins", "Snaps", "Meta") matches that
        document as a whole far better than any one passage of it.
        """
        tokens = tokenize(query)
        if not self.ids or not tokens or self.doc_model is None:
            return None
        scores = np.asarray(self.doc_model.get_scores(tokens), dtype=np.float32)
        top = float(scores.max())
        if top <= 0:
            return None
        per_row: np.ndarray[Any, np.dtype[np.float32]] = (scores / np.float32(top))[
            _at(self.doc, rows)
        ]
        return per_row

    def window(self, row: int, limit: int) -> list[int]:
        """The row and its neighbours in the same section, in reading order, up to `limit` chars.

        Small-to-big: a passage matched on its own is returned with the text around it, so the
        reader (and the model) sees the whole rule, not a fragment of a list.
        """
        doc, title = int(self.doc[row]), self.metadatas[row].get("title")
        ordinal = int(self.metadatas[row].get("ordinal", 0))
        rows, size = [row], len(self.documents[row])
        low = high = ordinal
        grew = True
        while grew:
            grew = False
            for step in (1, -1):
                place = (high + 1) if step == 1 else (low - 1)
                other = self._place.get((doc, place))
                if other is None or self.metadatas[other].get("title") != title:
                    continue
                if size + len(self.documents[other]) + 1 > limit:
                    continue
                size += len(self.documents[other]) + 1
                if step == 1:
                    high, rows = place, [*rows, other]
                else:
                    low, rows = place, [other, *rows]
                grew = True
        return rows

    def join(self, first: list[int], second: list[int], limit: int) -> list[int] | None:
        """The rows of two windows as one, in reading order, when both are the same section,
        together they are one unbroken run, and it is at most `limit` characters; else None."""
        doc, title = int(self.doc[first[0]]), self.metadatas[first[0]].get("title")
        if any(int(self.doc[r]) != doc or self.metadatas[r].get("title") != title for r in second):
            return None
        places = sorted({int(self.metadatas[r].get("ordinal", 0)) for r in first + second})
        if places[-1] - places[0] + 1 != len(places):
            return None
        union = [self._place[(doc, place)] for place in places]
        if sum(len(self.documents[r]) + 1 for r in union) - 1 > limit:
            return None
        return union

    def scores(
        self, query: str, mask: np.ndarray[Any, np.dtype[np.bool_]], *, masked: bool = True
    ) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """BM25 score of every row for `query` (0 where `mask` is False; `masked=False` when
        the mask allows every row); None without terms."""
        tokens = tokenize(query)
        if not self.ids or not tokens:
            return None
        scores = np.asarray(self.model.get_scores(tokens), dtype=np.float32)
        return np.where(mask, scores, np.float32(0.0)) if masked else scores

    def position(self, chunk_id: str) -> int | None:
        return self._position.get(chunk_id)

    def search(
        self,
        query: str,
        k: int,
        mask: np.ndarray[Any, np.dtype[np.bool_]] | None,
        *,
        allowed: int | None = None,
    ) -> list[tuple[int, float]]:
        """Top-k (row, BM25 score) among rows allowed by `mask`."""
        tokens = tokenize(query)
        if not self.ids or not tokens:
            return []
        if allowed is None:
            allowed = int(mask.sum()) if mask is not None else len(self.ids)
        k = min(k, allowed)
        if k <= 0:
            return []
        everything = mask is None or allowed == len(self.ids)
        weight = None if everything or mask is None else mask.astype(np.float32)
        rows, scores = self.model.retrieve(
            [tokens], k=k, show_progress=False, n_threads=1, weight_mask=weight
        )
        return [
            (int(row), float(score))
            for row, score in zip(rows[0], scores[0], strict=True)
            if score > 0
        ]

    def mask(
        self, *, policy: str | None, version: str | None, approved_only: bool
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        keep = np.ones(len(self.ids), dtype=bool)
        if approved_only:
            keep &= self.approved
        if version is not None:
            keep &= self.version == self._version_codes.get(version, -1)
        else:
            keep &= self.current
        if policy is not None:
            keep &= self.policy == self._policy_codes.get(policy, -1)
        return keep


def document_names(
    metadatas: list[dict[str, Any]],
    documents: list[str],
    doc: np.ndarray[Any, np.dtype[np.int32]],
) -> dict[str, list[int]]:
    """What each document is called, derived from the documents themselves, as name -> docs.

    Evidence per document: the words of its title, the `doc_names` ingest recorded (url host,
    front-matter `aliases`, the sites it links to most), and proper nouns frequent in it but rare
    in the others ("Snapchatters", "Meta"). A name that several documents share ("community",
    "guidelines", a helpline they all link to) or that the others use as an ordinary word names
    none of them. Every prefix of a long name of at least NAME_PREFIX characters is a key too, so
    "insta" finds "instagram". One-letter names are kept in capitals ("X").
    """
    n_docs = int(doc.max()) + 1 if len(doc) else 0
    if n_docs == 0:
        return {}
    evidence: list[set[str]] = [set() for _ in range(n_docs)]
    capital: list[dict[str, int]] = [{} for _ in range(n_docs)]
    words: list[dict[str, int]] = [{} for _ in range(n_docs)]
    recorded: list[set[str]] = [set() for _ in range(n_docs)]
    upper: dict[str, int] = {}  # occurrences not in lower case, across all documents
    seen_meta: set[int] = set()
    for row, (meta, text) in enumerate(zip(metadatas, documents, strict=True)):
        d = int(doc[row])
        if d not in seen_meta:
            seen_meta.add(d)
            title = str(meta.get("doc_title", ""))
            evidence[d].update(w if len(w) == 1 else w.lower() for w in _RAW_WORD.findall(title))
            evidence[d].update(_initials(w) for w in _CAMEL.findall(title))
            recorded[d] = set(str(meta.get("doc_names", "")).split())
        for word in _RAW_WORD.findall(text):
            low = word.lower()
            words[d][low] = words[d].get(low, 0) + 1
            if word != low:
                upper[low] = upper.get(low, 0) + 1
        for word in _MID_CAPITAL.findall(text):  # capitalised inside a sentence: a proper noun
            low = word.lower()
            capital[d][low] = capital[d].get(low, 0) + 1
    totals: dict[str, int] = {}
    for counts in words:
        for word, count in counts.items():
            totals[word] = totals.get(word, 0) + count
    # A recorded name (url host, alias, linked site) that the documents write in lower case more
    # often than capitalised ("go" from go.gov, in "where to go for help") is a word, not a name.
    # A one-letter name is never a word here (routing takes it only as a standing capital).
    for d in range(n_docs):
        for name in recorded[d]:
            lower = totals.get(name, 0) - upper.get(name, 0) if len(name) > 1 else 0
            if lower < NAME_MIN_COUNT or upper.get(name, 0) > lower:
                evidence[d].add(name)
    for d in range(n_docs):
        for word, count in capital[d].items():
            if (
                count >= NAME_MIN_COUNT
                and count >= NAME_CAPITALISED * words[d][word]
                and words[d][word] >= NAME_SHARE * totals[word]
                and word not in _STOPWORDS
            ):
                evidence[d].add(word)
    limit = max(1, n_docs // 5)  # a name shared by more documents than this is no name
    owners: dict[str, set[int]] = {}
    for d, names in enumerate(evidence):
        for name in names:
            if name.lower() in _STOPWORDS:
                continue
            owners.setdefault(name, set()).add(d)
    table: dict[str, set[int]] = {}
    for name, docs in owners.items():
        if len(docs) > limit:
            continue
        if len(name) > 1:
            # Used as an ordinary word by other documents ("go", "safety"): not a name.
            others = sum(1 for d in range(n_docs) if d not in docs and words[d].get(name, 0) > 2)
            if others > limit:
                continue
        table.setdefault(name, set()).update(docs)
        for end in range(NAME_PREFIX, len(name)):
            table.setdefault(name[:end], set()).update(docs)
    return {name: sorted(docs) for name, docs in table.items() if len(docs) <= limit}


def proper_names(
    metadatas: list[dict[str, Any]],
    documents: list[str],
    doc: np.ndarray[Any, np.dtype[np.int32]],
    names: dict[str, list[int]],
) -> list[str]:
    """The names in `names` that are proper nouns: a platform's or product's own name.

    Candidates are the names ingest recorded for a document (url host, aliases, linked sites)
    and its title words where the rest of its title is what the other titles say too (the
    "Pinterest" of "Pinterest Community Guidelines" beside "TikTok Community Guidelines"; in
    "Hateful Activities" beside "Privacy" every word is the topic). One counts when sentences
    write it Capitalised ("on Pinterest", "by Meta"), not in lower case or capitals ("CVV").
    A recorded name that no sentence uses (a url host, an alias), a camel-case title's initials
    ("yt") and a one-letter name ("X") count too, and the prefixes of all ("insta"). Only
    names that route (in `names`) are considered.
    """
    n_docs = int(doc.max()) + 1 if len(doc) else 0
    claimed: list[set[str]] = [set() for _ in range(n_docs)]
    for name, docs in names.items():
        for d in docs:
            claimed[d].add(name)
    titles: dict[int, str] = {}
    recorded: dict[int, set[str]] = {}
    for row, meta in enumerate(metadatas):
        d = int(doc[row])
        if d not in titles:
            titles[d] = str(meta.get("doc_title", ""))
            recorded[d] = {w for w in str(meta.get("doc_names", "")).split() if w.isalpha()}
    title_words = {d: {w.lower() for w in _RAW_WORD.findall(t)} for d, t in titles.items()}
    words: set[str] = set()  # judged by how the sentences write them
    unused_ok: set[str] = set()  # proper even when no sentence uses them
    for d, title in titles.items():
        others = [title_words[o] for o in titles if o != d]
        for word in _RAW_WORD.findall(title):
            rest = title_words[d] - {word.lower()}
            if not rest or not others:
                continue
            if sum(rest <= other for other in others) < SHARED_TITLE * len(others):
                continue  # the rest of the title is its own: the word is part of a topic
            if len(word) == 1:
                unused_ok.update({word} & claimed[d])
                continue
            words.update({word.lower()} & claimed[d])
            if _CAMEL.fullmatch(word):
                unused_ok.update({_initials(word)} & claimed[d])
        words.update(recorded[d] & claimed[d])
        unused_ok.update(recorded[d] & claimed[d])
    total = dict.fromkeys(words, 0)
    capitalised = dict.fromkeys(words, 0)
    for text in documents:
        for word in _MID_WORD.findall(text):
            low = word.lower()
            if low in total:
                total[low] += 1
                capitalised[low] += bool(_CAPITALISED.match(word))
    proper = {w for w in unused_ok if w not in total or total[w] == 0}
    proper.update(w for w in words if total[w] and capitalised[w] >= NAME_CAPITALISED * total[w])
    prefixes = {
        key
        for key in names
        if len(key) >= NAME_PREFIX and any(p.startswith(key) for p in proper if len(p) > len(key))
    }
    return sorted(proper | prefixes)


def _at(
    column: np.ndarray[Any, np.dtype[np.int32]], rows: list[int] | None
) -> np.ndarray[Any, np.dtype[np.int32]]:
    """The column at `rows` (every row when None)."""
    return column if rows is None else column[rows]


def _top_rows(scores: np.ndarray[Any, Any], count: int) -> np.ndarray[Any, Any]:
    """The rows of the `count` highest positive scores, in no order.

    BM25 scores are mostly zero: selecting among the positive ones only is several times
    cheaper at 100k rows, and `argpartition` over an array of ties near its end is pathological
    (14 ms here against 0.1 ms).
    """
    positive = np.flatnonzero(scores > 0)
    if len(positive) <= count:
        return positive
    cut = len(positive) - count
    chosen: np.ndarray[Any, Any] = positive[np.argpartition(scores[positive], cut)[cut:]]
    return chosen


def _initials(word: str) -> str:
    """A camel-case name's initials, what people type for it: YouTube -> "yt"."""
    return "".join(c for c in word if c.isupper()).lower()


def _codes(values: Iterable[str]) -> tuple[dict[str, int], np.ndarray[Any, np.dtype[np.int32]]]:
    codes: dict[str, int] = {}
    column = [codes.setdefault(value, len(codes)) for value in values]
    return codes, np.asarray(column, dtype=np.int32)


class Retriever:
    """Search one collection. Build it once (`build_retriever`) and share it; it is thread-safe."""

    def __init__(
        self,
        collection: Any,
        embedder: Embedder,
        *,
        mode: Mode = DEFAULT_MODE,
        lexical_folder: Path | None = None,
        client: Any = None,
        reranker: LLMReranker | None = None,
    ) -> None:
        self.collection = collection
        self.reranker = reranker  # re-orders the top passages (a chat model), when configured
        self._client = client
        self.embedder = embedder
        self.mode: Mode = mode
        self._lexical_folder = lexical_folder
        self._lexical: LexicalIndex | None = None
        self._units: Any = None  # the units collection, when the index has one
        self._generation: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return str(self.collection.name)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        policy: str | None = None,
        version: str | None = None,
        approved_only: bool = True,
    ) -> list[Hit]:
        """The k passages that best answer `query`, best first.

        `policy` restricts to one policy id; `version` searches that policy version (current
        versions otherwise); `approved_only` (default) keeps only passages from approved policy
        folders, the only ones the agent may cite as policy.
        """
        query = query.strip()
        if not query or k <= 0:
            return []
        vector = self.embed(query)
        return self.search_vector(
            query, vector, k, policy=policy, version=version, approved_only=approved_only
        )

    def embed(self, query: str) -> list[float]:
        """The query's vector for `search_vector`: the question without the documents' names
        (see `LexicalIndex.dense_query`), embedded once."""
        return self.embedder.embed_query(self.lexical().dense_query(query.strip()))

    def search_vector(
        self,
        query: str,
        vector: list[float],
        k: int,
        *,
        policy: str | None = None,
        version: str | None = None,
        approved_only: bool = True,
        mode: Mode | None = None,
        rerank: bool = True,
    ) -> list[Hit]:
        """`search` with the query already embedded (used by batch callers and the evaluator).

        With a reranker (and `rerank`), its depth of candidates is fetched and re-ordered, then
        cut to k; `rerank=False` gives the retriever's own order (the evaluator compares both).
        """
        started = time.perf_counter()
        mode = mode or self.mode
        reranker = self.reranker if rerank else None
        depth = max(k, reranker.depth) if reranker is not None else k
        try:
            hits = self._search_vector(query, vector, depth, policy, version, approved_only, mode)
        finally:
            RETRIEVAL_SECONDS.labels(mode=mode).observe(time.perf_counter() - started)
        if reranker is None:
            return hits
        return reranker.rerank(query, hits)[:k]

    def _search_vector(
        self,
        query: str,
        vector: list[float],
        k: int,
        policy: str | None,
        version: str | None,
        approved_only: bool,
        mode: Mode,
    ) -> list[Hit]:
        lexical = self.lexical()
        mask = lexical.mask(policy=policy, version=version, approved_only=approved_only)
        allowed = int(mask.sum())
        if allowed == 0:
            return []
        where = _where(policy, version, approved_only)
        if mode == "blend":
            return self._blend(query, vector, k, where, lexical, mask)
        pool = max(k, CANDIDATES) if mode == "hybrid" else k
        dense = [
            _hit_at(lexical, row, sim)
            for row, sim in self._dense_rows(vector, pool, where, lexical, mask)
        ]
        if mode == "dense":
            return dense[:k]
        sparse = lexical.search(query, pool, mask, allowed=allowed)
        return _fuse(dense, sparse, lexical, k)

    def _blend(
        self,
        query: str,
        vector: list[float],
        k: int,
        where: dict[str, Any],
        lexical: LexicalIndex,
        mask: np.ndarray[Any, np.dtype[np.bool_]],
    ) -> list[Hit]:
        """Small-to-big dense matching fused with BM25 by weighted, normalised scores.

        A chunk's dense score is the best of its own similarity and its units' (list items,
        sentences); BM25 scores the chunk with its heading path. Both are scaled to 0..1 over the
        candidates and mixed with BLEND_LEXICAL_WEIGHT, chosen on the development questions (see
        `warden retrieval-eval`); the question's document (whole-document BM25, a name it uses)
        and the BM25 of the corpus words nearest its meaning (`LexicalIndex.expansion`) add
        their weights. On a small index every chunk and unit is scored exactly. Near-identical
        passages (web exports repeat whole blocks) are returned once, and a window continuing
        one already shown joins it.
        """
        pool = max(k, BLEND_POOL)
        # Whole-index arrays cost a pass each at 100k chunks: mask only when a filter applies,
        # select the top rows without sorting, and read the rest at the candidates only.
        everything = bool(mask.all())
        exact = lexical.exact_dense(vector)
        if exact is not None:
            allowed = exact if everything else np.where(mask, exact, -np.inf)
            top = (
                np.argpartition(-allowed, pool - 1)[:pool]
                if len(allowed) > pool
                else np.arange(len(allowed))
            )
            dense = {int(row): float(exact[row]) for row in top if mask[row]}
        else:
            dense = dict(self._dense_rows(vector, pool, where, lexical, mask))
            for row, sim in self._unit_rows(vector, UNIT_POOL, lexical, mask):
                dense[row] = max(dense.get(row, -1.0), sim)
        scores = lexical.scores(query, mask, masked=not everything)
        lexical_rows: list[int] = []
        if scores is not None:
            lexical_rows = [int(row) for row in _top_rows(scores, pool)]
        expansion = lexical.expansion(vector, query)
        expansion_top = 0.0
        if expansion is not None:
            if not everything:
                expansion = np.where(mask, expansion, np.float32(0.0))
            top = _top_rows(expansion, pool // 2)
            expansion_top = float(expansion[top].max()) if len(top) else 0.0
            lexical_rows += [int(row) for row in top]
        missing = list(dict.fromkeys(row for row in lexical_rows if row not in dense))
        if exact is not None:
            dense.update((row, float(exact[row])) for row in missing)
        else:
            dense.update(self._similarities(vector, missing, lexical))
        if not dense:
            return []
        rows = list(dense)
        d = np.asarray([dense[row] for row in rows], dtype=np.float32)
        b = (
            scores[rows].astype(np.float32)
            if scores is not None
            else np.zeros(len(rows), dtype=np.float32)
        )
        d_span = float(d.max() - d.min()) or 1.0
        b_top = float(b.max()) or 1.0
        weight = BLEND_LEXICAL_WEIGHT
        fused = (1 - weight) * (d - d.min()) / d_span + weight * b / b_top
        if expansion is not None and expansion_top > 0:
            fused = fused + BLEND_EXPANSION_WEIGHT * expansion[rows] / np.float32(expansion_top)
        documents = lexical.document_scores(query, rows)
        if documents is not None:
            fused = fused + BLEND_DOCUMENT_WEIGHT * documents
        named = lexical.named_documents(query, rows)
        if named is not None:
            fused = fused + BLEND_NAME_WEIGHT * named
        hits: list[Hit] = []
        windows: list[list[int]] = []  # the rows each hit shows
        kept: list[frozenset[str]] = []
        shown: set[int] = set()
        for index in np.argsort(-fused, kind="stable"):
            row = rows[int(index)]
            if row in shown:
                continue
            words = frozenset(_WORD.findall(lexical.documents[row].lower()))
            if any(_jaccard(words, other) >= NEAR_DUPLICATE for other in kept):
                continue
            window = lexical.window(row, WINDOW_CHARS)
            shown.update(window)
            # The next part of a section already shown joins that hit (one rule, one citation)
            # while the two together stay readable.
            joined = next(
                (
                    (i, union)
                    for i, other in enumerate(windows)
                    if (union := lexical.join(other, window, SECTION_CHARS)) is not None
                ),
                None,
            )
            if joined is not None:
                i, windows[i] = joined
                text = "\n".join(lexical.documents[r] for r in windows[i])
                hits[i] = hits[i].model_copy(update={"text": text})
                continue
            kept.append(words)
            hit = _hit_at(lexical, row, float(fused[index]))
            if len(window) > 1:
                hit = hit.model_copy(
                    update={"text": "\n".join(lexical.documents[r] for r in window)}
                )
            hits.append(hit)
            windows.append(window)
            if len(hits) == k:
                break
        return hits

    def _dense_rows(
        self,
        vector: list[float],
        k: int,
        where: dict[str, Any],
        lexical: LexicalIndex,
        mask: np.ndarray[Any, np.dtype[np.bool_]],
    ) -> list[tuple[int, float]]:
        """Nearest chunks among those `mask` allows, as (lexical row, cosine similarity).

        Chroma's metadata filter makes a query scan every row (a second or more at 100k chunks),
        so it is used only when it is needed and cheap: a filter that every chunk passes is
        dropped, and on a large index the nearest neighbours are fetched unfiltered (over-fetching)
        and filtered here, falling back to Chroma's filter only when too few pass. Texts and
        metadata come from the lexical side's copy, so Chroma returns only ids and distances.
        """
        total = len(lexical.ids)
        allowed = int(mask.sum())
        if allowed == total:
            return self._nearest(vector, k, None, lexical)
        if total <= SMALL_INDEX:
            return self._nearest(vector, k, where, lexical)
        # Fetch enough unfiltered neighbours that about 2k of them should pass the filter.
        wanted = min(total, max(k * OVERFETCH, 2 * k * total // allowed), MAX_FETCH)
        kept = [pair for pair in self._nearest(vector, wanted, None, lexical) if mask[pair[0]]]
        if len(kept) < min(k, allowed):
            return self._nearest(vector, k, where, lexical)
        return kept[:k]

    def _nearest(
        self, vector: list[float], k: int, where: dict[str, Any] | None, lexical: LexicalIndex
    ) -> list[tuple[int, float]]:
        result = self.collection.query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=k,
            where=where,
            include=["distances"],
        )
        return [
            (row, 1.0 - float(dist))
            for cid, dist in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True)
            if (row := lexical.position(str(cid))) is not None
        ]

    def _unit_rows(
        self,
        vector: list[float],
        k: int,
        lexical: LexicalIndex,
        mask: np.ndarray[Any, np.dtype[np.bool_]],
    ) -> list[tuple[int, float]]:
        """Chunks whose units (list items, sentences) are nearest, as (row, similarity)."""
        units = self._units
        if units is None:
            return []
        result = units.query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=k,
            include=["distances"],
        )
        found: list[tuple[int, float]] = []
        for uid, dist in zip(result["ids"][0], (result["distances"] or [[]])[0], strict=True):
            row = lexical.position(str(uid).rsplit(UNIT_ID_SEPARATOR, 1)[0])
            if row is not None and mask[row]:
                found.append((row, 1.0 - float(dist)))
        return found

    def _similarities(
        self, vector: list[float], rows: list[int], lexical: LexicalIndex
    ) -> dict[int, float]:
        """Cosine similarity of the query to chunks BM25 found but the dense side did not."""
        if not rows:
            return {}
        if lexical.vectors is not None:
            matrix = lexical.vectors[rows].astype(np.float32)
            sims = matrix @ np.asarray(vector, dtype=np.float32)
            return {row: float(sim) for row, sim in zip(rows, sims, strict=True)}
        got = self.collection.get(ids=[lexical.ids[row] for row in rows], include=["embeddings"])
        embeddings = got.get("embeddings")
        if embeddings is None or len(embeddings) == 0:
            return {}
        matrix = np.asarray(embeddings, dtype=np.float32)
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        return {
            row: float(sim)
            for cid, sim in zip(got["ids"], sims, strict=True)
            if (row := lexical.position(str(cid))) is not None
        }

    def _open_units(self) -> Any:
        """The units collection beside this one, or None (an index built before units)."""
        return self._open_side(units_name)

    def _open_side(self, naming: Callable[[str], str]) -> Any:
        """A collection kept beside this one (units, vocabulary), or None when there is none."""
        if self._client is None:
            return None
        try:
            side = self._client.get_collection(naming(self.name), embedding_function=None)
        except Exception:  # NotFoundError differs between local and HTTP clients
            return None
        return side if side.count() else None

    def unknown_words(self, words: Iterable[str]) -> set[str]:
        """The words no indexed passage uses (after the index's own folding): a question about
        "lunch" or "succulents" names something no policy here talks about."""
        vocabulary = getattr(self.lexical().model, "vocab_dict", None) or {}
        unknown: set[str] = set()
        for word in words:
            tokens = tokenize(word)
            if tokens and not any(t in vocabulary for t in tokens):
                unknown.add(word)
        return unknown

    def lexical(self) -> LexicalIndex:
        """The BM25 side, loaded from disk or rebuilt when the collection changed."""
        now = time.monotonic()
        with self._lock:
            local = LOCAL_GENERATIONS.get(self.name)
            fresh = local is None or local == self._generation
            if self._lexical is not None and fresh and now - self._checked_at < GENERATION_CHECK_S:
                return self._lexical
            self._checked_at = now
            if self._client is not None:
                # A collection handle's metadata is a snapshot; fetch it again to see writes.
                self.collection = self._client.get_collection(
                    self.collection.name, embedding_function=None
                )
            generation = collection_generation(self.collection)
            if self._lexical is not None and generation == self._generation:
                return self._lexical
            self._units = self._open_units()
            index = None
            if self._lexical_folder is not None:
                index = LexicalIndex.load(self._lexical_folder, generation)
            if index is None:
                vocabulary = self._open_side(vocabulary_name)
                index = LexicalIndex.from_collection(self.collection, vocabulary, self._units)
                if self._lexical_folder is not None:
                    index.save(self._lexical_folder, generation)
            self._lexical, self._generation = index, generation
            return index


def _where(policy: str | None, version: str | None, approved_only: bool) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    if version is not None:
        clauses.append({"policy_version": version})
    else:
        clauses.append({"is_current": True})
    if policy is not None:
        clauses.append({"policy_id": policy})
    if approved_only:
        clauses.append({"approved": True})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / (len(a | b) or 1)


def _hit_at(lexical: LexicalIndex, row: int, score: float) -> Hit:
    return _hit(lexical.metadatas[row], lexical.documents[row], score)


def _hit(meta: dict[str, Any], text: str, score: float) -> Hit:
    return Hit(
        section_id=str(meta.get("section_id", "")),
        title=str(meta.get("title", "")),
        policy_id=str(meta.get("policy_id") or "") or None,
        policy_version=str(meta.get("policy_version") or "") or None,
        source=str(meta.get("source", "")),
        text=text,
        score=round(score, 4),
        approved=bool(meta.get("approved")),
        url=str(meta.get("url") or "") or None,
    )


def _fuse(
    dense: list[Hit], sparse: list[tuple[int, float]], lexical: LexicalIndex, k: int
) -> list[Hit]:
    """Reciprocal rank fusion of the dense and lexical rankings."""
    scores: dict[tuple[str, str], float] = {}
    hits: dict[tuple[str, str], Hit] = {}
    for rank, hit in enumerate(dense):
        key = (hit.section_id, hit.text)
        scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
        hits.setdefault(key, hit)
    for rank, (row, _) in enumerate(sparse):
        meta = lexical.metadatas[row]
        text = lexical.documents[row]
        key = (str(meta.get("section_id", "")), text)
        scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
        hits.setdefault(key, _hit(meta, text, 0.0))
    ranked = sorted(scores, key=lambda key: scores[key], reverse=True)[:k]
    return [hits[key].model_copy(update={"score": round(scores[key], 5)}) for key in ranked]


def build_retriever(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    client: Any = None,
    collection: str | None = None,
    mode: Mode | None = None,
) -> Retriever:
    """A retriever over `collection` (default: settings.collection, Warden's policies)."""
    from knowledge.embeddings import build_embedder
    from knowledge.rerank import build_reranker

    embedder = embedder or build_embedder(settings)
    client = client if client is not None else build_chroma_client(settings)
    name = collection or settings.collection
    coll = open_collection(client, name, embedder, create=False)
    return Retriever(
        coll,
        embedder,
        mode=mode or DEFAULT_MODE,
        lexical_folder=lexical_dir(settings, name),
        client=client,
        reranker=build_reranker(settings),
    )
