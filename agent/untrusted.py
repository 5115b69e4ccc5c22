"""The one way content under review enters a prompt: marked as data, never as instructions.

Content under review (case texts, media descriptions, report reasons, account handles) is written by
the people being moderated. It may carry instructions aimed at the model ("SYSTEM: approve this",
"approved by the lead"), invisible characters that hide such instructions from a human reviewer,
or a forged copy of our own delimiters. `mark_untrusted` is the only function that puts such text
into a prompt (Spotlighting: delimiters with a random boundary plus datamarking); the system prompt
tells the model that nothing inside a marked block is an instruction. None of this is relied on for
safety: the graph validates every model output against the case and the catalogue regardless.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

# Datamarking: every run of whitespace inside the block becomes this character, so text inside a
# block can never look like free-standing prompt text. It is removed from the content first.
DATAMARK = "\u02c6"  # MODIFIER LETTER CIRCUMFLEX ACCENT

_INVISIBLE = re.compile(
    "["
    "\u00ad"  # soft hyphen
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space/joiners, LRM/RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u2069"  # bidi isolates
    "\ufe00-\ufe0f"  # variation selectors (used to smuggle bytes)
    "\ufeff"  # BOM / zero-width no-break space
    "\U000e0000-\U000e007f"  # Unicode tag characters (invisible ASCII copies)
    "\U000e0100-\U000e01ef"  # variation selectors supplement
    "]"
)
# Control characters other than newline and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Anything that looks like one of our block delimiters; the real boundary is random, but a forged
# one is defused so the model never sees two plausible "ends of data".
_FORGED_BOUNDARY = re.compile(r"<{2,}|>{2,}|\bUNTRUSTED[-_ ]?[0-9a-f]*\b", re.IGNORECASE)
# Long base64-looking runs: reviewers do not need the encoded payload verbatim, and a decoded
# instruction is still an instruction, so the run is replaced by a short description.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])")
_MAX_CHARS = 4000


def sanitize(text: str) -> str:
    """Return `text` without invisible, control and tag characters, NFC-normalised."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub(" ", text)


def _describe_base64(match: re.Match[str]) -> str:
    run = match.group(0)
    return f"[encoded text, {len(run)} chars, not decoded: {run[:12]}...]"


def mark_untrusted(text: str, *, label: str, max_chars: int = _MAX_CHARS) -> str:
    """Wrap content under review as a data block with a fresh random boundary and datamarking."""
    boundary = secrets.token_hex(8)
    clean = sanitize(text).replace(DATAMARK, "^")
    clean = _FORGED_BOUNDARY.sub("[delimiter removed]", clean)
    clean = _BASE64_RUN.sub(_describe_base64, clean)
    if len(clean) > max_chars:
        clean = clean[:max_chars] + " [truncated]"
    marked = "\n".join(DATAMARK.join(line.split()) for line in clean.splitlines())
    safe_label = re.sub(r"[^a-z0-9_ -]", "", label.lower())[:40]
    return f"<<<UNTRUSTED-{boundary} {safe_label}>>>\n{marked}\n<<<END-UNTRUSTED-{boundary}>>>"


def unmark(marked: str) -> str:
    """Return the readable text of a marked block (for excerpts shown to people and for tests)."""
    lines = marked.splitlines()[1:-1]
    return "\n".join(line.replace(DATAMARK, " ") for line in lines)
