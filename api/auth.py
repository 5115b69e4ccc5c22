"""API keys: who is calling (Bearer key, compared in constant time) and what they may do."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from warden.integrations import ApiKey, Scope


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the key's name (what the audit records), never the key."""

    name: str
    scopes: frozenset[Scope]


def _digest(value: bytes) -> bytes:
    # Hash first so every comparison is of equal length: nothing about a key's length leaks.
    return hashlib.sha256(value).digest()


class KeyRing:
    """The configured keys; `identify` checks a presented key against every one of them."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self._keys = [(_digest(k.key.get_secret_value().encode()), k) for k in keys]

    def __len__(self) -> int:
        return len(self._keys)

    def identify(self, token: str | None) -> Caller | None:
        """The caller whose key this is, or None. Every key is compared (no early exit)."""
        if not token:
            return None
        presented = _digest(token.encode("utf-8", "surrogateescape"))
        found: ApiKey | None = None
        for digest, key in self._keys:
            if hmac.compare_digest(digest, presented):
                found = key
        return None if found is None else Caller(name=found.name, scopes=found.scopes)
