"""Anchors for the audit chain outside the database: signed checkpoints of its head.

The hash chain (tools/audit.py) shows that rows were changed, unless whoever changed them also
recomputed every later hash and the head. A checkpoint is the head (seq, hash) at a moment,
signed with HMAC-SHA256 under `WARDEN_AUDIT_KEY`, a key that lives in the settings and never in
the database, and appended to a file kept elsewhere (`warden audit anchor`; ship it to
write-once storage). Verifying against the checkpoints catches a rewritten chain: the event at
each checkpoint's seq must still carry the checkpoint's hash, and the chain may not end before
the newest checkpoint. A checkpoint line that does not carry a valid signature is a finding too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from tools.audit import GENESIS, VerifyReport, verify
from tools.store import Store, utc, utcnow
from tools.tables import AuditHeadRow, AuditRow
from warden.errors import ConfigError, InputError

_CONTEXT = "warden-audit-anchor:v1"


class Checkpoint(BaseModel):
    """The chain's head at one moment, signed."""

    seq: int
    hash: str
    at: datetime
    mac: str


def _mac(key: bytes, seq: int, head_hash: str, at: datetime) -> str:
    message = f"{_CONTEXT}:{seq}:{head_hash}:{utc(at).isoformat()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key(key: str | None) -> bytes:
    if not key:
        raise ConfigError(
            "WARDEN_AUDIT_KEY is not set: audit checkpoints are signed with it (keep it out of "
            "the database, e.g. in the environment or a secret store)."
        )
    return key.encode()


def checkpoint(store: Store, key: str | None, *, now: datetime | None = None) -> Checkpoint:
    """Sign the current head; refuse when the chain is already broken (never anchor a forgery)."""
    secret = _key(key)
    report = verify(store)
    if not report.ok:
        raise InputError(
            f"The audit chain is broken at seq {report.first_broken_seq} ({report.problem}); "
            "a checkpoint would vouch for it. Investigate before anchoring."
        )
    with store.session() as s:
        head = s.get(AuditHeadRow, 1)
        seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    at = utc(now or utcnow())
    return Checkpoint(seq=seq, hash=head_hash, at=at, mac=_mac(secret, seq, head_hash, at))


def anchor(store: Store, key: str | None, path: Path) -> Checkpoint:
    """Append a signed checkpoint of the head to `path` (one JSON line, flushed to disk)."""
    made = checkpoint(store, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(made.model_dump_json() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return made


def read_checkpoints(path: Path) -> list[tuple[int, Checkpoint | None]]:
    """(line number, checkpoint) per non-empty line; None for a line that is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InputError(f"Cannot read the audit checkpoints {path}: {exc.strerror}") from exc
    found: list[tuple[int, Checkpoint | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append((number, Checkpoint.model_validate(json.loads(line))))
        except (ValueError, ValidationError, RecursionError):
            found.append((number, None))
    return found


def verify_anchored(store: Store, key: str | None, path: Path) -> VerifyReport:
    """The chain's own check, then every checkpoint in `path` against it."""
    report = verify(store)
    if not report.ok:
        return report
    secret = _key(key)
    checkpoints = read_checkpoints(path)
    newest = 0
    with store.session() as s:
        for line, cp in checkpoints:
            if cp is None or not hmac.compare_digest(cp.mac, _mac(secret, cp.seq, cp.hash, cp.at)):
                return report.model_copy(
                    update={
                        "ok": False,
                        "problem": f"checkpoint line {line} of {path} is not signed with "
                        "WARDEN_AUDIT_KEY (altered, forged, or signed with another key)",
                    }
                )
            newest = max(newest, cp.seq)
            if cp.seq == 0:
                continue
            stored = s.scalar(select(AuditRow.hash).where(AuditRow.seq == cp.seq))
            if stored != cp.hash:
                return report.model_copy(
                    update={
                        "ok": False,
                        "first_broken_seq": cp.seq,
                        "problem": f"event {cp.seq} no longer has the hash signed at "
                        f"{cp.at:%Y-%m-%d %H:%M:%S} UTC (line {line}): the chain up to it "
                        "was rewritten"
                        if stored is not None
                        else f"event {cp.seq}, anchored at {cp.at:%Y-%m-%d %H:%M:%S} UTC, "
                        "is gone: the newest events were deleted",
                    }
                )
    if newest > report.events:
        return report.model_copy(
            update={
                "ok": False,
                "first_broken_seq": report.events + 1,
                "problem": f"the chain ends at event {report.events} but a checkpoint "
                f"anchors event {newest}",
            }
        )
    return report.model_copy(update={"anchored": len(checkpoints)})
