"""Whether a value is fit to be a production secret: one rule for every secret setting.

`warden.production` applies it to every secret setting when `WARDEN_ENV=production` starts a
server; the settings themselves apply it, with a longer minimum, to the API keys and webhook
secrets they parse. A value is refused when it is a placeholder (or holds a word that marks one
copied from an example), shorter than the minimum, or low in entropy.
"""

from __future__ import annotations

import math
from collections import Counter

MIN_LENGTH = 16
MIN_DISTINCT = 8
MIN_BITS_PER_CHAR = 3.0
# Whole values that are never secrets.
PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "xoxb-your-token", "xapp-your-token", "secret", "todo"}
)
# Words that mark a value copied from an example rather than generated.
_MARKERS = (
    "placeholder", "changeme", "change-me", "change_me", "your-", "your_", "yoursecret",
    "example", "dummy", "replace", "insert", "xxxx", "todo", "notasecret", "default",
    "password",
)  # fmt: skip


def _bits_per_char(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def secret_weakness(value: str, minimum: int = MIN_LENGTH) -> str | None:
    """Why `value` is not fit to be a production secret (None when it is)."""
    stripped = value.strip()
    lowered = stripped.lower()
    if lowered in PLACEHOLDERS or any(marker in lowered for marker in _MARKERS):
        return "is a placeholder"
    if len(stripped) < minimum:
        return f"is {len(stripped)} characters (at least {minimum})"
    if len(set(stripped)) < MIN_DISTINCT or _bits_per_char(stripped) < MIN_BITS_PER_CHAR:
        return "is low in entropy (repeated or patterned characters)"
    return None
