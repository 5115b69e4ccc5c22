"""10. Bad input: policy files, case files, CLI arguments, model replies, gateway replies.

Pass: a clear error (a WardenError, or a problem text, naming what is wrong); nothing already
stored is lost or changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.conftest import Figures
from warden.errors import WardenError

# -- policy files ---------------------------------------------------------------------------
GOOD_POLICY = """# Example Guidelines

## Spam

We remove repetitive unsolicited messages.

## Threats

Statements of intent to hurt a person are removed.
"""
BAD_POLICIES: dict[str, bytes] = {
    "bad-yaml.md": b"---\nid: [oops\n---\n# x\n",
    "missing-keys.md": b"---\nid: ZZ\n---\n# x\n",
    "binary.md": b"\x00\x01\x02\x03binary\x00",
    "latin1.md": "---\nid: ZZ\ntitle: Caf\xe9\n---\n# x\n".encode("latin-1"),
    "unclosed-front-matter.md": b"---\nid: ZZ\ntitle: x\n# x\n\n## ZZ-1 Scope\n",
    "version-list.md": (b"---\nid: ZZ\ntitle: T\ndomain: community\nversion: [1]\n"
                        b"effective: 2026-01-01\nowner: o@x\n---\n# T\n## ZZ-1 Scope\ntext\n"),
    "front-matter-is-a-list.md": b"---\n- a\n- b\n---\n# x\n",
}  # fmt: skip


@pytest.fixture
def hash_embedder() -> Any:
    from tests.bench.test_bench_smoke import HashEmbedder

    return HashEmbedder()


@pytest.mark.parametrize("name", list(BAD_POLICIES))
def test_malformed_policy_files_are_named_and_the_index_is_unchanged(
    name: str, tmp_path: Path, hash_embedder: Any, figures: Figures
) -> None:
    from knowledge.index import build_chroma_client, ingest
    from warden.settings import Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "guidelines.md").write_text(GOOD_POLICY, "utf-8")
    settings = Settings(WARDEN_HOME=tmp_path / "home", WARDEN_POLICIES_DIRS=[folder])
    client = build_chroma_client(settings)
    ingest([folder], settings=settings, client=client, embedder=hash_embedder,
           collection="bad", progress=False)  # fmt: skip
    before = client.get_collection("bad").get(include=["metadatas", "documents"])
    (folder / "guidelines.md").write_text(GOOD_POLICY.replace("repetitive", "CHANGED"), "utf-8")
    (folder / name).write_bytes(BAD_POLICIES[name])
    figures.tried += 1
    try:
        report = ingest([folder], settings=settings, client=client, embedder=hash_embedder,
                        collection="bad", progress=False)  # fmt: skip
    except WardenError as exc:
        figures.rejected += 1
        assert name in str(exc), f"the error does not name the file: {exc}"
        after = client.get_collection("bad").get(include=["metadatas", "documents"])
        if sorted(after["documents"]) != sorted(before["documents"]):
            figures.lost += 1  # a refused ingest must leave the index as it was
    except Exception as exc:
        figures.server_errors += 1
        figures.note(f"{name}: {type(exc).__name__}: {exc}"[:300])
    else:
        # Stored, but flagged: named in a warning and never approved as policy.
        flagged = any(name in w for w in report.warnings) and report.approved_documents == 1
        figures.rejected += flagged
        figures.accepted += not flagged
        figures.note(f"{name}: ingested, {'flagged' if flagged else 'NOT flagged'}: "
                     f"{[w for w in report.warnings if name in w][:1]}"[:300])  # fmt: skip
    assert (figures.accepted, figures.server_errors, figures.lost) == (0, 0, 0), figures.notes


# -- case files ---------------------------------------------------------------------------
def _case(case_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "opened_at": "2026-11-19T09:00:00Z",
        "items": [{"id": f"{case_id}-pin", "author_id": "acct-a", "text": "a pin"}],
        "signals": {"hate": 0.5},
        **extra,
    }


BAD_CASES: dict[str, str] = {
    "not JSON": "{not json",
    "a JSON list": "[]",
    "null": "null",
    "no items": json.dumps({"id": "c-x", "opened_at": "2026-11-19T09:00:00Z"}),
    "items not a list": json.dumps(_case("c-x", items="pin-1")),
    "item without author": json.dumps(_case("c-x", items=[{"id": "p", "text": "t"}])),
    "bad date": json.dumps(_case("c-x", opened_at="yesterday")),
    "signal not a number": json.dumps(_case("c-x", signals={"hate": "high"})),
    "changes a stored case's content": json.dumps(_case("case-keep", items=[
        {"id": "case-keep-pin", "author_id": "acct-evil", "text": "rewritten"}])),
    "truncated line": json.dumps(_case("c-x"))[:-7],
}  # fmt: skip


# Found by this suite and fixed in tools.models (ids, score range, NUL bytes): now plain cases.
BAD_CASES |= {
    "empty id": json.dumps(_case("")),
    "signal out of range": json.dumps(_case("c-x", signals={"hate": 7.5})),
    "NUL byte in text": json.dumps(_case("c-x", items=[
        {"id": "c-x-pin", "author_id": "acct-a", "text": "nul \u0000 byte"}])),
}  # fmt: skip
CASE_PARAMS = [pytest.param(n, BAD_CASES[n], id=n) for n in BAD_CASES]


@pytest.mark.parametrize(("name", "line"), CASE_PARAMS)
def test_malformed_case_lines_are_refused_and_stored_cases_kept(
    name: str, line: str, store: Any, figures: Figures
) -> None:
    from tools.cases import import_cases

    import_cases(store, [json.dumps(_case("case-keep"))])
    kept = store.get_case("case-keep").model_dump()
    figures.tried += 1
    try:
        import_cases(store, [json.dumps(_case("case-new")), line], source="cases.jsonl")
    except WardenError as exc:
        figures.rejected += 1
        assert "cases.jsonl" in str(exc) and "2" in str(exc), str(exc)
    except Exception as exc:
        figures.server_errors += 1
        figures.note(f"{name}: {type(exc).__name__}: {exc}"[:300])
    else:
        figures.accepted += 1
        figures.note(f"{name}: imported without an error")
    if store.get_case("case-keep").model_dump() != kept:
        figures.lost += 1
    assert (figures.accepted, figures.server_errors, figures.lost) == (0, 0, 0), figures.notes
    from warden.errors import NotFoundError

    with pytest.raises(NotFoundError):
        store.get_case("case-new")  # all or nothing: the good line was not stored either


# -- CLI arguments --------------------------------------------------------------------------
CLI_CASES: list[tuple[str, list[str]]] = [
    ("unknown case", ["cases", "show", "no-such-case"]),
    ("case file that does not exist", ["cases", "import", "/nonexistent/cases.jsonl"]),
    ("case file that is a folder", ["cases", "import", "/"]),
    ("unknown account", ["strikes", "show", "acct-nobody"]),
    ("unknown escalation", ["escalations", "ack", "esc-nope"]),
    ("unknown command", ["cases", "explode"]),
    ("missing argument", ["cases", "show"]),
    ("export to a folder that does not exist", ["audit", "export", "/nonexistent/dir/a.jsonl"]),
]


@pytest.mark.parametrize(("name", "args"), CLI_CASES, ids=[n for n, _ in CLI_CASES])
def test_bad_cli_arguments_get_a_clear_error(
    name: str, args: list[str], warden_home: Path, figures: Figures
) -> None:
    import typer
    from typer.testing import CliRunner

    from tools.cli import register

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, args)
    figures.tried += 1
    exc = result.exception
    if result.exit_code == 0:
        figures.accepted += 1
        figures.note(f"{name}: exit 0")
    elif exc is None or isinstance(exc, SystemExit):
        figures.rejected += 1  # a usage error from the command line parser, with its message
        assert result.output.strip(), "a usage error must say what is wrong"
    elif isinstance(exc, WardenError):
        figures.rejected += 1
        assert str(exc).strip()
    else:
        figures.server_errors += 1
        figures.note(f"{name}: {type(exc).__name__}: {exc}"[:300])
    assert (figures.accepted, figures.server_errors) == (0, 0), figures.notes


# -- model replies --------------------------------------------------------------------------
BAD_REPLIES: dict[str, Any] = {
    "empty": "",
    "truncated JSON": '{"verdict": "violating", "confidence": 0.9, "ratio',
    "not JSON": "I think this violates the policy.",
    "a JSON list": "[1, 2, 3]",
    "null": "null",
    "wrong types": '{"verdict": 1, "confidence": "high", "rationale": []}',
    "confidence out of range": '{"verdict": "violating", "confidence": 7, "rationale": "x"}',
    "missing fields": '{"verdict": "violating"}',
    "huge": '{"verdict": "violating", "confidence": 0.5, "rationale": "' + "x" * 200_000,
    "timeout": TimeoutError("the model did not answer in time"),
}


def test_bad_model_replies_become_problems_not_crashes(figures: Figures) -> None:
    from agent.drafts import RecommendationDraft
    from agent.llm import structured_call
    from tests.fakes.chat import ScriptedChatModel

    for name, reply in BAD_REPLIES.items():
        model = ScriptedChatModel().enqueue(reply)
        figures.tried += 1
        try:
            out = structured_call(model, RecommendationDraft, [], name="recommendation")
        except Exception as exc:
            figures.server_errors += 1
            figures.note(f"{name}: raised {type(exc).__name__}")
            continue
        if out.parsed is None and out.problem:
            figures.rejected += 1
        else:
            figures.accepted += 1
            figures.note(f"{name}: accepted as {out.parsed!r}"[:200])
    assert (figures.accepted, figures.server_errors) == (0, 0), figures.notes


# -- gateway replies ------------------------------------------------------------------------
Responder = Callable[[dict[str, Any]], httpx.Response]


def _receipts(body: dict[str, Any], **change: Any) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {"idempotency_key": i["idempotency_key"], "receipt": {
            "idempotency_key": i["idempotency_key"], "receipt_id": "r-1",
            "target_type": i["target_type"], "target_id": i["target_id"], "action": i["action"],
            "applied_at": now, "replayed": False, **change}}
        for i in body["items"]
    ]  # fmt: skip


BAD_GATEWAY: dict[str, Responder] = {
    "not JSON": lambda b: httpx.Response(200, content=b"<html>oops</html>"),
    "empty object": lambda b: httpx.Response(200, json={}),
    "results not a list": lambda b: httpx.Response(200, json={"results": "ok"}),
    "results missing items": lambda b: httpx.Response(200, json={"results": _receipts(b)[:1]}),
    "receipt without fields": lambda b: httpx.Response(
        200, json={"results": [{"idempotency_key": i["idempotency_key"], "receipt": {}}
                               for i in b["items"]]}),
    "receipts for other keys": lambda b: httpx.Response(200, json={"results": [
        {**r, "idempotency_key": "other-" + r["idempotency_key"]} for r in _receipts(b)]}),
    "a JSON list": lambda b: httpx.Response(200, json=[1, 2]),
    "401": lambda b: httpx.Response(401, json={"error": "bad token"}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_GATEWAY))
def test_bad_gateway_replies_stop_cleanly_and_a_rerun_lands_everything_once(
    name: str, sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    from tests.tools.fanout_child import seed_approved_proposal, tally
    from tools.fanout import execute, status
    from tools.gateway import HttpGateway, LocalPlatform

    store = sqlite_store
    proposal = seed_approved_proposal(store, catalogue, n=12)

    def handler(request: httpx.Request) -> httpx.Response:
        return BAD_GATEWAY[name](json.loads(request.content))

    client = httpx.Client(
        base_url="http://enforcement.invalid", transport=httpx.MockTransport(handler)
    )
    gateway = HttpGateway(client, max_attempts=2, backoff_s=0.0, sleep=lambda _s: None)
    figures.tried += 1
    try:
        result = execute(store, gateway, proposal.id, catalogue=catalogue, batch_size=5)
    except WardenError as exc:
        figures.rejected += 1
        assert str(exc).strip()
        figures.note(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
    except Exception as exc:
        figures.server_errors += 1
        figures.note(f"{name}: {type(exc).__name__}: {exc}"[:300])
    else:
        if result.applied:
            figures.accepted += 1
            figures.note(f"{name}: {result.applied} actions counted as applied")
        else:
            figures.rejected += 1  # every item recorded as failed, nothing claimed applied
    paused = status(store, proposal.id)
    assert paused.applied == 0, "an unreadable reply must not count as applied"
    # The operator reruns against a working platform: everything lands, once.
    if store.get_proposal(proposal.id).status.value in ("approved", "executing"):
        execute(store, LocalPlatform(store.engine), proposal.id, catalogue=catalogue)
        counts = tally(store, store.get_proposal(proposal.id))
        figures.lost, figures.duplicated = counts.lost, counts.duplicated
    assert (figures.accepted, figures.server_errors, figures.lost, figures.duplicated) == (
        0, 0, 0, 0,
    ), figures.notes  # fmt: skip
