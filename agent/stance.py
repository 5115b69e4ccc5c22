"""Stance: does the content make the attack a policy's violation sections describe, or does it
do what the policy's exceptions allow (quote to condemn, report, reclaim, praise, mention)?

Two kinds of evidence, both general: the lexical cues a reviewer reads before the words
themselves (what the poster quotes or reports someone else saying is left out of the framing),
and a small linear classifier over the sentence vectors (all-MiniLM-L6-v2) trained per policy on
that policy's own sentences and examples (violation sections against exception sections) plus the
examples Warden's team wrote for it in `stance_examples.yaml`. No evaluation data set is used.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

_QUOTED = re.compile(r"\"[^\"]{2,}\"|“[^”]{2,}”|‘[^’]{2,}’|(?<!\w)'[^']{2,}'(?!\w)")
# Someone other than the poster saying, calling or telling: "you said ...", "people who call
# them ...", "he told her ...". The reported words run to the end of the clause.
_REPORTED = re.compile(
    r"(\b(?:you|you're|he|she|they|someone|somebody|anyone|anybody|people|those|others|who|"
    r"whoever|it)\s+(?:(?:are|were|is|was|keep|kept|just|even|still|always|never|would|will|"
    r"do|did|don't|didn't)\s+)?"
    r"(?:say|says|said|saying|call|calls|called|calling|tell|tells|told|telling|claim|claims|"
    r"claimed|claiming|shout|shouts|shouted|shouting|write|writes|wrote|writing|post|posts|"
    r"posted|posting|think|thinks|thought|suggest|suggests|suggested|suggesting|imply|implies|"
    r"implied|describe|describes|described|describing|refer|refers|referred|referring)\b)"
    r"[^.;!?,]*",
    re.IGNORECASE,
)
_GAP = " … "


def framing(text: str) -> str:
    """The content with quoted spans and words reported from others left out: what the poster
    says about what they quote."""
    kept = _QUOTED.sub(_GAP, text)
    return _REPORTED.sub(lambda m: m.group(1) + _GAP, kept)


# ---- the classifier ---------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent / "stance_examples.yaml"
L2 = 3e-4
STEPS = 2000
RATE = 2.0


@dataclass(frozen=True)
class Stance:
    """A linear classifier over sentence vectors: P(the content makes a violation's attack)."""

    weights: np.ndarray
    bias: float
    examples: int

    def violation(self, vector: Sequence[float]) -> float:
        z = float(np.asarray(vector, dtype=np.float64) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def written_examples(policy_id: str, path: Path = EXAMPLES) -> dict[str, list[str]]:
    """Warden's own written stance examples for a policy, by section id."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    return {str(k): [str(t) for t in v] for k, v in (data.get(policy_id) or {}).items()}


def fit(
    vectors: np.ndarray,
    labels: np.ndarray,
    *,
    l2: float = L2,
    steps: int = STEPS,
    rate: float = RATE,
) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression by gradient descent (a few hundred rows: instant;
    deterministic). Also fits the abstention model (`agent.abstention.fit`)."""
    n = len(labels)
    positives = float(labels.sum())
    if n == 0 or positives in (0.0, float(n)):
        raise ValueError("a stance needs examples of both sides")
    weight = np.where(labels == 1, n / (2 * positives), n / (2 * (n - positives)))
    w = np.zeros(vectors.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(vectors @ w + b)))
        g = (p - labels) * weight / n
        w -= rate * (vectors.T @ g + l2 * w)
        b -= rate * float(g.sum())
    return w, b


class Stances:
    """One classifier per policy and training set, trained on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fitted: dict[str, Stance] = {}

    def get(self, embedder: Any, violation: list[str], exception: list[str]) -> Stance | None:
        """The stance trained on these texts (violation side, exception side); None when a
        side is empty. Texts are read as framed (quotes and reported words left out)."""
        if not violation or not exception:
            return None
        texts = [framing(t) for t in (*violation, *exception)]
        key = hashlib.sha256("\x00".join([str(len(violation)), *texts]).encode()).hexdigest()
        with self._lock:
            found = self._fitted.get(key)
        if found is not None:
            return found
        vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float64)
        labels = np.array([1.0] * len(violation) + [0.0] * len(exception))
        w, b = fit(vectors, labels)
        stance = Stance(weights=w, bias=b, examples=len(texts))
        with self._lock:
            self._fitted[key] = stance
        return stance


STANCES = Stances()
