"""The Chroma index: clients, ingestion (validate everything, then write), the lexical side index.

Ingest is idempotent. A chunk's id is a hash of its content and place, so re-ingesting an unchanged
file embeds nothing; chunks of a document that are no longer produced are deleted; unchanged
chunks whose provenance changed (moved into an approved folder, superseded) only get new metadata.

A "document" for replacement purposes is one version of one Warden policy (`HA@3`) or one file
without front matter. A new version of a policy therefore leaves the old version's chunks in place,
flagged `is_current=False`, so `search(..., version="2")` still finds them.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from knowledge.parsing import (
    CHUNKER_VERSION,
    Chunk,
    Document,
    chunk_document,
    chunk_units,
    iter_files,
    parse_file,
)
from warden.errors import ConfigError, InputError, PolicyError, WardenError

if TYPE_CHECKING:
    from knowledge.catalogue import Catalogue
    from knowledge.embeddings import Embedder
    from warden.settings import Settings

GENERATION_KEY = "warden_generation"
EMBEDDER_KEY = "warden_embedder"
# Which chunker wrote the chunks: `warden doctor` asks for a re-ingest when it differs.
CHUNKER_KEY = "warden_chunker"
VOCABULARY_MAX = 50_000  # words embedded per collection for query expansion
MAX_WORD_CHARS = 40
_VOCABULARY_WORD = re.compile(r"[a-z][a-z0-9]*(?:['-][a-z0-9]+)*")
UNIT_ID_SEPARATOR = "~"  # a unit's id is "<chunk id>~<n>": the search reads the chunk from it
OLDER_VERSION_FILE = re.compile(r"\.v\d+\.[^.]+$")
# Chroma's own rule for collection names, checked here so a bad name is one clear line (506
# characters leave room for the "-units" and "-vocab" collections beside it).
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{1,504})[A-Za-z0-9]$")


class IngestReport(BaseModel):
    """What an ingest did; `warnings` name documents that were stored but not approved."""

    collection: str
    files: int
    documents: int
    chunks: int
    added: int = Field(description="chunks embedded and written")
    unchanged: int = Field(description="chunks already stored (not embedded again)")
    updated: int = Field(description="chunks whose metadata changed, not re-embedded")
    deleted: int = Field(description="chunks of these documents no longer produced")
    units_added: int = Field(0, description="list items / sentences embedded for matching")
    words_added: int = Field(0, description="corpus words embedded for query expansion")
    removed_documents: list[str] = Field(
        default_factory=list,
        description="documents stored from the folders given whose files are gone (deleted)",
    )
    approved_documents: int
    warnings: list[str] = Field(default_factory=list)
    seconds: float


# --------------------------------------------------------------------------- clients


def build_chroma_client(settings: Settings) -> Any:
    """A Chroma `HttpClient` when WARDEN_CHROMA_URL is set, else a `PersistentClient` on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(
                f"WARDEN_CHROMA_URL={settings.chroma_url!r} is not a URL; "
                "use e.g. http://127.0.0.1:8000."
            )
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises bare exceptions for connection problems
            raise ConfigError(
                f"Cannot reach the Chroma server at {settings.chroma_url}: {exc}. Start it "
                "(`chroma run --path DIR`) or unset WARDEN_CHROMA_URL to use the local index."
            ) from exc
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def units_name(name: str) -> str:
    """The collection holding a collection's units (list items and sentences, small-to-big)."""
    return f"{name}-units"


def vocabulary_name(name: str) -> str:
    """The collection holding the embeddings of the words a collection's documents use."""
    return f"{name}-vocab"  # as long as "-units": the name limit holds for both


def check_collection_name(name: str) -> str:
    """Refuse a name Chroma would reject (with a traceback) before anything is read or written."""
    if not COLLECTION_NAME.match(name) or ".." in name or re.fullmatch(r"[\d.]+", name):
        raise InputError(
            f"Collection name {name!r} is not allowed: use 3-506 letters, digits, '.', '_' or "
            "'-', starting and ending with a letter or digit (e.g. --collection hr-policies)."
        )
    return name


def open_collection(client: Any, name: str, embedder: Embedder, *, create: bool = True) -> Any:
    """Get (or create) a cosine-space collection and check it was built with this embedder."""
    check_collection_name(name)
    model = embedder_name(embedder)
    if create:
        collection = client.get_or_create_collection(
            name=name,
            metadata={"hnsw:space": "cosine", EMBEDDER_KEY: model},
            embedding_function=None,
        )
    else:
        try:
            collection = client.get_collection(name=name, embedding_function=None)
        except Exception as exc:  # NotFoundError differs between local and HTTP clients
            raise InputError(
                f"No index named {name!r}; run `warden ingest PATH --collection {name}` first."
            ) from exc
    built_with = (collection.metadata or {}).get(EMBEDDER_KEY)
    if built_with and built_with != model:
        raise ConfigError(
            f"Collection {name!r} was built with embeddings from {built_with!r} but "
            f"{model!r} is configured; re-ingest into a new collection or switch back."
        )
    return collection


def embedder_name(embedder: Embedder) -> str:
    """The model's name; test doubles that only implement the two embed methods get their type."""
    return str(getattr(embedder, "name", None) or type(embedder).__name__)


def collection_generation(collection: Any) -> str:
    """Changes on every write; the lexical index is rebuilt when it no longer matches."""
    return str((collection.metadata or {}).get(GENERATION_KEY, ""))


# --------------------------------------------------------------------------- metadata


def version_key(version: str) -> tuple[int, ...] | tuple[float, str]:
    """Order "2" < "2.1" < "10"; versions that are not dotted numbers sort as text after them."""
    if re.fullmatch(r"\d+(?:\.\d+)*", version):
        return tuple(int(part) for part in version.split("."))
    return (float("inf"), version)


def is_under(path: Path, folders: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder.resolve()) for folder in folders)


def chunk_metadata(chunk: Chunk, *, approved: bool, path: Path) -> dict[str, str | int | bool]:
    """Chroma metadata for one chunk (Chroma stores no None: absent means empty string)."""
    return {
        "section_id": chunk.section_id,
        "title": chunk.title,
        "source": chunk.source,
        "path": str(path.resolve()),  # absolute: re-ingest finds what a folder held
        "doc_key": chunk.doc_key,
        "doc_title": chunk.doc_title,
        "policy_id": chunk.policy_id or "",
        "policy_version": chunk.policy_version or "",
        "ordinal": chunk.ordinal,
        "approved": approved,
        "is_current": chunk.policy_id is None,  # policy versions are settled after writing
        "content_hash": chunk.content_hash,
        "url": chunk.url or "",
        "doc_names": chunk.doc_names,
    }


# --------------------------------------------------------------------------- validation


@dataclass
class Prepared:
    """A parsed, validated document ready to be written."""

    document: Document
    chunks: list[Chunk]
    approved: bool


def prepare(paths: Iterable[Path], settings: Settings) -> tuple[list[Prepared], list[str], int]:
    """Parse and validate every file before anything is written.

    Raises one error listing every unusable file. Returns the documents, warnings about
    documents that will be stored unapproved, and the number of files read.
    """
    files = iter_files(paths)
    if not files:
        raise InputError(
            "No markdown, text, HTML, Word or PDF files found in "
            f"{', '.join(str(p) for p in paths)}; nothing was ingested."
        )
    documents: list[Document] = []
    errors: list[str] = []
    policy_errors = False
    for file, source in files:
        try:
            documents.append(parse_file(file, source))
        except WardenError as exc:
            errors.append(str(exc))
            policy_errors = policy_errors or isinstance(exc, PolicyError)
        except OSError as exc:
            errors.append(f"{file}: cannot be read: {exc}")
    seen: dict[str, Path] = {}
    for doc in documents:
        if doc.doc_key in seen:
            errors.append(
                f"{doc.path}: declares {doc.doc_key.replace('@', ' version ')}, "
                f"as does {seen[doc.doc_key]}; keep one file per policy version."
            )
        seen[doc.doc_key] = doc.path
    if errors:
        kind = PolicyError if policy_errors else InputError
        raise kind("Nothing was ingested; fix these files first:\n" + "\n".join(errors))
    warnings: list[str] = []
    prepared: list[Prepared] = []
    catalogue_problems = _catalogue_check(documents, settings, warnings)
    for doc in documents:
        approved = is_under(doc.path, settings.policies_dirs)
        if not approved and doc.front_matter is not None:
            warnings.append(
                f"{doc.path}: policy {doc.doc_key} is outside the approved policy folders; "
                "stored as unapproved (never cited as policy)."
            )
        problems = catalogue_problems.get(doc.path, [])
        if approved and problems:
            approved = False
            warnings.append(
                f"{doc.path}: contradicts the catalogue, stored as unapproved: "
                + "; ".join(problems)
            )
        chunks = chunk_document(doc)
        if not chunks:
            warnings.append(f"{doc.path}: no text found; nothing stored for it.")
        prepared.append(Prepared(doc, chunks, approved))
    return prepared, warnings, len(files)


def _catalogue_check(
    documents: list[Document], settings: Settings, warnings: list[str]
) -> dict[Path, list[str]]:
    """Cross-check approved Warden policy documents with the catalogue; problems per file."""
    approved_policies = [
        doc
        for doc in documents
        if doc.front_matter is not None and is_under(doc.path, settings.policies_dirs)
    ]
    if not approved_policies:
        return {}
    from knowledge.catalogue import check_document, load_catalogue

    try:
        catalogue = load_catalogue(settings.catalogue_dir)
    except PolicyError as exc:
        warnings.append(f"The catalogue could not be loaded, policies stored as unapproved: {exc}")
        return {doc.path: [str(exc)] for doc in approved_policies}
    found: dict[Path, list[str]] = {}
    for doc in approved_policies:
        if OLDER_VERSION_FILE.search(doc.path.name):
            problems = _archived_version_problems(doc, catalogue)
        else:
            problems = check_document(catalogue, doc.path)
        if problems:
            found[doc.path] = problems
    return found


def _archived_version_problems(doc: Document, catalogue: Catalogue) -> list[str]:
    """An archived-version file must hold a version older than the catalogue's current one.

    The catalogue describes only the current version, so archived files are not section-checked;
    without this rule a file named like an old version could claim a newer version and become
    the current policy.
    """
    if doc.front_matter is None:
        return []
    policy_id, version = doc.front_matter.id, str(doc.front_matter.version)
    if policy_id not in catalogue.policies:
        return [f"policy {policy_id} is not in the catalogue"]
    current = str(catalogue.policies[policy_id].version)
    if version_key(version) >= version_key(current):
        return [
            f"archived-version file claims version {version}, not older than the "
            f"catalogue's current version {current}"
        ]
    return []


# --------------------------------------------------------------------------- ingest


def ingest(
    paths: Iterable[Path | str],
    *,
    settings: Settings | None = None,
    client: Any = None,
    embedder: Embedder | None = None,
    collection: str | None = None,
    progress: bool = False,
) -> IngestReport:
    """Index files and folders into a collection; validates every file before writing anything."""
    from knowledge.embeddings import build_embedder
    from warden.settings import get_settings

    started = time.perf_counter()
    settings = settings or get_settings()
    name = check_collection_name(collection or settings.collection)
    path_list = [Path(p) for p in paths]
    prepared, warnings, file_count = prepare(path_list, settings)
    embedder = embedder or build_embedder(settings)
    client = client if client is not None else build_chroma_client(settings)
    coll = open_collection(client, name, embedder)

    wanted = planned_chunks(prepared)
    doc_keys = sorted({item.document.doc_key for item in prepared})
    gone = _gone(coll, [p for p in path_list if p.is_dir()], set(doc_keys))
    existing = _existing(coll, doc_keys)
    to_add = [cid for cid in wanted if cid not in existing]
    to_delete = [cid for cid in existing if cid not in wanted]
    to_update = [
        cid
        for cid in wanted
        if cid in existing and _differs(existing[cid], wanted[cid][1], ignore=("is_current",))
    ]

    texts = [wanted[cid][0].embed_text for cid in to_add]
    vectors = _embed(embedder, texts, progress=progress)

    batch = _max_batch(client)
    for start in range(0, len(to_add), batch):
        ids = to_add[start : start + batch]
        coll.add(
            ids=ids,
            embeddings=np.asarray(vectors[start : start + batch], dtype=np.float32),
            documents=[wanted[cid][0].text for cid in ids],
            metadatas=[wanted[cid][1] for cid in ids],
        )
    for start in range(0, len(to_update), batch):
        ids = to_update[start : start + batch]
        metas = [{**wanted[cid][1], "is_current": existing[cid].get("is_current")} for cid in ids]
        coll.update(ids=ids, metadatas=metas)
    gone_ids = [cid for ids in gone.values() for cid, _ in ids]
    for start in range(0, len(to_delete), batch):
        coll.delete(ids=to_delete[start : start + batch])
    for start in range(0, len(gone_ids), batch):
        coll.delete(ids=gone_ids[start : start + batch])
    units_added = _write_units(
        client, name, embedder, wanted, to_delete + gone_ids, batch=batch, progress=progress
    )
    vocabulary, words_added = _write_vocabulary(
        client, name, embedder, wanted, batch=batch, progress=progress
    )

    policies = sorted(
        {c.policy_id for c, _ in wanted.values() if c.policy_id}
        | {pid for ids in gone.values() for _, pid in ids if pid}
    )
    settle_versions(coll, policies)
    generation = bump_generation(coll)
    from knowledge.retrieval import LOCAL_GENERATIONS, LexicalIndex

    units = client.get_collection(units_name(name), embedding_function=None)
    LexicalIndex.rebuild(coll, lexical_dir(settings, name), generation, vocabulary, units)
    LOCAL_GENERATIONS[name] = generation

    return IngestReport(
        collection=name,
        files=file_count,
        documents=len(prepared),
        chunks=len(wanted),
        added=len(to_add),
        unchanged=len(wanted) - len(to_add),
        updated=len(to_update),
        deleted=len(to_delete) + len(gone_ids),
        units_added=units_added,
        words_added=words_added,
        removed_documents=sorted(gone),
        approved_documents=sum(1 for item in prepared if item.approved),
        warnings=warnings,
        seconds=round(time.perf_counter() - started, 2),
    )


def planned_chunks(prepared: Sequence[Prepared]) -> dict[str, tuple[Chunk, dict[str, Any]]]:
    """Chunk id -> (chunk, metadata) that an ingest of these documents stores."""
    wanted: dict[str, tuple[Chunk, dict[str, Any]]] = {}
    for item in prepared:
        for chunk in item.chunks:
            meta = chunk_metadata(chunk, approved=item.approved, path=item.document.path)
            chunk_id = chunk.content_hash
            suffix = 2
            while chunk_id in wanted:  # identical text twice under one heading
                chunk_id = f"{chunk.content_hash}-{suffix}"
                suffix += 1
            wanted[chunk_id] = (chunk, meta)
    return wanted


def _write_units(
    client: Any,
    name: str,
    embedder: Embedder,
    wanted: dict[str, tuple[Chunk, dict[str, Any]]],
    removed: list[str],
    *,
    batch: int,
    progress: bool,
) -> int:
    """Keep the units collection in step with the chunks: add missing units, drop orphans.

    Unit ids derive from their chunk's id, so an unchanged chunk's units are found and kept,
    and a collection built before units existed gets them on its next ingest.
    """
    units = open_collection(client, units_name(name), embedder)
    for start in range(0, len(removed), 100):
        units.delete(where={"parent": {"$in": removed[start : start + 100]}})
    rows = {
        f"{cid}{UNIT_ID_SEPARATOR}{n}": (cid, text)
        for cid, (chunk, _) in wanted.items()
        for n, text in enumerate(chunk_units(chunk))
    }
    ids = list(rows)
    present: set[str] = set()
    for start in range(0, len(ids), PAGE):
        present.update(str(u) for u in units.get(ids=ids[start : start + PAGE], include=[])["ids"])
    to_add = [uid for uid in ids if uid not in present]
    vectors = _embed(embedder, [rows[uid][1] for uid in to_add], progress=progress)
    for start in range(0, len(to_add), batch):
        part = to_add[start : start + batch]
        units.add(
            ids=part,
            embeddings=np.asarray(vectors[start : start + batch], dtype=np.float32),
            metadatas=[{"parent": rows[uid][0]} for uid in part],
        )
    return len(to_add)


def vocabulary_words(texts: Iterable[str]) -> list[str]:
    """The words of `texts` worth an embedding, most frequent first: letters (with inner digits,
    hyphens or apostrophes), 3 to MAX_WORD_CHARS long, not a stop word."""
    from knowledge.retrieval import _STOPWORDS

    counts: dict[str, int] = {}
    for text in texts:
        for word in _VOCABULARY_WORD.findall(text.lower().replace("’", "'")):
            word = word.removesuffix("'s")
            if len(word) < 3 or len(word) > MAX_WORD_CHARS or word in _STOPWORDS:
                continue
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def chunk_vocabulary(chunks: Iterable[Chunk]) -> list[str]:
    """The words ingest embeds for these chunks (their headings and text), most frequent first."""
    return vocabulary_words(f"{chunk.title} {chunk.text}" for chunk in chunks)


def _write_vocabulary(
    client: Any,
    name: str,
    embedder: Embedder,
    wanted: dict[str, tuple[Chunk, dict[str, Any]]],
    *,
    batch: int,
    progress: bool,
) -> tuple[Any, int]:
    """Embed the words of these chunks that the vocabulary collection does not hold yet.

    Retrieval expands a question with the corpus words nearest its meaning (see
    `LexicalIndex.expansion`). Words are their own ids, so each is embedded once per collection
    whatever is re-ingested; a word whose documents are gone scores nothing in BM25 and is
    dropped when the lexical index loads. At most VOCABULARY_MAX words, the most frequent first.
    """
    vocabulary = open_collection(client, vocabulary_name(name), embedder)
    words = chunk_vocabulary(chunk for chunk, _ in wanted.values())
    present: set[str] = set()
    for start in range(0, len(words), PAGE):
        present.update(
            str(w) for w in vocabulary.get(ids=words[start : start + PAGE], include=[])["ids"]
        )
    room = max(0, VOCABULARY_MAX - vocabulary.count())
    to_add = [w for w in words if w not in present][:room]
    vectors = _embed(embedder, to_add, progress=progress)
    for start in range(0, len(to_add), batch):
        part = to_add[start : start + batch]
        vocabulary.add(
            ids=part, embeddings=np.asarray(vectors[start : start + batch], dtype=np.float32)
        )
    return vocabulary, len(to_add)


def lexical_dir(settings: Settings, collection: str) -> Path:
    return settings.home / "lexical" / collection


PAGE = 5000  # rows per `get`: one unpaged get of a large collection exceeds SQLite's limits


def fetch_all(
    coll: Any,
    *,
    where: dict[str, Any] | None = None,
    documents: bool = False,
    vectors: list[Any] | None = None,
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Every (id, metadata, document) matching `where`, read in pages.

    With `vectors` (a list), each row's embedding is appended to it, in the same order.
    """
    include = ["metadatas", "documents"] if documents else ["metadatas"]
    if vectors is not None:
        include.append("embeddings")
    ids: list[str] = []
    metas: list[dict[str, Any]] = []
    docs: list[str] = []
    offset = 0
    while True:
        page = coll.get(where=where, include=include, limit=PAGE, offset=offset)
        ids.extend(str(cid) for cid in page["ids"])
        metas.extend(dict(meta or {}) for meta in page["metadatas"] or [])
        if documents:
            docs.extend(str(doc or "") for doc in page["documents"] or [])
        if vectors is not None and len(page["ids"]):
            vectors.extend(page["embeddings"])
        if len(page["ids"]) < PAGE:
            return ids, metas, docs
        offset += PAGE


def _existing(coll: Any, doc_keys: list[str]) -> dict[str, dict[str, Any]]:
    """Stored chunk id -> metadata for the given documents."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(doc_keys), 100):
        ids, metas, _ = fetch_all(coll, where={"doc_key": {"$in": doc_keys[start : start + 100]}})
        found.update(zip(ids, metas, strict=True))
    return found


def _gone(
    coll: Any, folders: Sequence[Path], produced: set[str]
) -> dict[str, list[tuple[str, str]]]:
    """Stored documents that came from under `folders` but that this ingest no longer produces.

    Their file was deleted or renamed (or now holds another policy version), so they must not stay
    citable. Only the folders given are considered: ingesting one folder never removes what was
    ingested from another. Returns doc_key -> [(chunk id, policy id)].
    """
    if not folders:
        return {}
    roots = [folder.resolve() for folder in folders]
    ids, metas, _ = fetch_all(coll)
    found: dict[str, list[tuple[str, str]]] = {}
    for cid, meta in zip(ids, metas, strict=True):
        key = str(meta.get("doc_key", ""))
        if key in produced:
            continue
        stored = Path(str(meta.get("path", "")))
        if any(stored.is_relative_to(root) for root in roots):
            found.setdefault(key, []).append((cid, str(meta.get("policy_id") or "")))
    return found


def _differs(stored: dict[str, Any], new: dict[str, Any], *, ignore: Sequence[str]) -> bool:
    return any(stored.get(key) != value for key, value in new.items() if key not in ignore)


def _max_batch(client: Any) -> int:
    try:
        return max(1, min(int(client.get_max_batch_size()), 4096))
    except Exception:  # older servers do not report it
        return 1000


def _embed(embedder: Embedder, texts: list[str], *, progress: bool) -> list[list[float]]:
    if not texts:
        return []
    step = 256
    if not progress:
        out: list[list[float]] = []
        for start in range(0, len(texts), step):
            out.extend(embedder.embed_documents(texts[start : start + step]))
        return out
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    out = []
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("Embedding chunks", total=len(texts))
        for start in range(0, len(texts), step):
            part = texts[start : start + step]
            out.extend(embedder.embed_documents(part))
            bar.advance(task, len(part))
    return out


def settle_versions(coll: Any, policy_ids: Sequence[str]) -> None:
    """Mark the current version of each policy (`is_current`) and every other version not current.

    The current version is the highest approved one; an unapproved copy (a file outside the policy
    folders, or one that contradicts the catalogue) can never supersede an approved version.
    """
    for policy_id in policy_ids:
        ids, metas, _ = fetch_all(coll, where={"policy_id": policy_id})
        if not ids:
            continue
        approved_versions = {str(m["policy_version"]) for m in metas if m.get("approved")}
        pool = approved_versions or {str(m["policy_version"]) for m in metas}
        current = max(pool, key=version_key)
        changed_ids: list[str] = []
        changed: list[dict[str, Any]] = []
        for cid, meta in zip(ids, metas, strict=True):
            flag = str(meta["policy_version"]) == current and (
                bool(meta.get("approved")) or not approved_versions
            )
            if meta.get("is_current") != flag:
                changed_ids.append(cid)
                changed.append({**meta, "is_current": flag})
        if changed_ids:
            coll.update(ids=changed_ids, metadatas=changed)


def bump_generation(coll: Any) -> str:
    generation = uuid.uuid4().hex
    metadata = {k: v for k, v in (coll.metadata or {}).items() if not k.startswith("hnsw:")}
    metadata[GENERATION_KEY] = generation
    metadata[CHUNKER_KEY] = CHUNKER_VERSION
    coll.modify(metadata=metadata)
    return generation
