"""Evaluation metrics per policy and per action, a confusion matrix, and a per-group breakdown.

Conventions (stated in the report too):
- A positive prediction for policy P is a recommendation with verdict "violating", policy P and
  no escalation. Borderline or policy-less answers are *abstentions*; answers flagged for
  escalation are *escalations*. Both are counted separately and are not positive predictions
  (automation would not act on them), so they lower recall but never precision.
- A row whose label for P is unknown (e.g. a missing key in a multi-label set) is left out of P's
  metrics entirely.
- support = labelled positives (as in scikit-learn); `labelled` = rows with a known label for P.
- `flagged` repeats the per-policy figures counting borderline drafts that name P as positive:
  what a specialist is pointed to, as opposed to what automation could act on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.interface import Recommendation
from knowledge.vocabulary import ActionType
from ops.loaders import LabelledCase

Outcome = Literal["violating", "not_violating", "abstained", "escalated"]
NONE = "none"


class Prediction(BaseModel):
    """What the recommendation path answered for one case, without any case text."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    outcome: Outcome
    policy_id: str | None
    action: ActionType | None
    confidence: float
    mode: str

    @classmethod
    def from_recommendation(cls, rec: Recommendation) -> Prediction:
        return cls(
            case_id=rec.case_id,
            outcome=outcome_of(rec),
            policy_id=rec.policy_id,
            action=rec.action,
            confidence=rec.confidence,
            mode=rec.mode,
        )

    @property
    def predicted_policy(self) -> str | None:
        """The policy the answer would act on, or None."""
        return self.policy_id if self.outcome == "violating" else None

    @property
    def flagged_policy(self) -> str | None:
        """The policy the answer points a specialist to, counting borderline drafts too."""
        if self.outcome == "violating" or (self.outcome == "abstained" and self.policy_id):
            return self.policy_id
        return None


def outcome_of(rec: Recommendation) -> Outcome:
    if rec.escalate:
        return "escalated"
    if rec.verdict == "violating" and rec.policy_id:
        return "violating"
    if rec.verdict == "not_violating":
        return "not_violating"
    return "abstained"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


class BinaryMetrics(BaseModel):
    """One-vs-rest counts and scores for one policy or one action."""

    key: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    abstained: int = Field(0, description="labelled rows answered borderline / without policy")
    escalated: int = 0
    unknown: int = Field(0, description="rows left out because their label is unknown")

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def predicted(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _f1(self.precision, self.recall)

    def add(self, actual: bool, predicted: bool, outcome: Outcome) -> None:
        if actual and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1
        if outcome == "abstained":
            self.abstained += 1
        elif outcome == "escalated":
            self.escalated += 1

    def summary(self) -> dict[str, float | int | None]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
            "labelled": self.labelled,
        }


class Confusion(BaseModel):
    """Expected label (rows) x answer (columns); rows with several/unknown labels are left out."""

    rows: list[str]
    columns: list[str]
    matrix: list[list[int]]
    excluded: int

    def cell(self, expected: str, answered: str) -> int:
        return self.matrix[self.rows.index(expected)][self.columns.index(answered)]


class GroupMetrics(BaseModel):
    """Accuracy within one group (e.g. a HateCheck functionality)."""

    group: str
    n: int
    correct: int
    wrong: int
    abstained: int
    escalated: int
    undetermined: int = Field(0, description="answer names a policy the row has no label for")
    flag_correct: int = Field(0, description="right, counting borderline drafts as flags")
    flag_wrong: int = 0

    @property
    def accuracy(self) -> float | None:
        return _ratio(self.correct, self.correct + self.wrong)

    @property
    def flag_accuracy(self) -> float | None:
        """Share right when a borderline draft naming a policy counts as flagging it."""
        return _ratio(self.flag_correct, self.flag_correct + self.flag_wrong)


class EvalMetrics(BaseModel):
    n: int
    outcomes: dict[str, int]
    errors: int = Field(0, description="cases the recommendation path failed on (abstained)")
    policies: list[BinaryMetrics]
    flagged: list[BinaryMetrics] = Field(
        description="per policy, counting borderline drafts that name the policy as positive"
    )
    actions: list[BinaryMetrics]
    confusion: Confusion
    groups: list[GroupMetrics]

    def policy(self, policy_id: str) -> BinaryMetrics:
        for m in self.policies:
            if m.key == policy_id:
                return m
        raise KeyError(policy_id)


def _policies_of(rows: Sequence[LabelledCase], preds: Sequence[Prediction]) -> list[str]:
    found: set[str] = set()
    for row in rows:
        found |= set(row.positives)
        if row.known is not None:
            found |= set(row.known)
    # With Warden's own format every policy is labelled, so every answered policy is scored too.
    if any(row.known is None for row in rows):
        found |= {p.policy_id for p in preds if p.policy_id}
    return sorted(found)


def _expected_label(row: LabelledCase, policies: Iterable[str]) -> str | None:
    if len(row.positives) > 1:
        return None
    if row.positives:
        return next(iter(row.positives))
    if all(row.label(p) is False for p in policies):
        return NONE
    return None


def _answer_label(pred: Prediction) -> str:
    if pred.outcome in ("abstained", "escalated"):
        return pred.outcome
    return pred.predicted_policy or NONE


def compute(rows: Sequence[LabelledCase], preds: Sequence[Prediction]) -> EvalMetrics:
    """Score predictions against their labelled rows (same order, same length)."""
    if len(rows) != len(preds):
        raise ValueError(f"{len(rows)} rows but {len(preds)} predictions")
    policies = _policies_of(rows, preds)
    per_policy = {p: BinaryMetrics(key=p) for p in policies}
    per_flag = {p: BinaryMetrics(key=p) for p in policies}
    per_action: dict[str, BinaryMetrics] = {}
    action_rows = [(r, p) for r, p in zip(rows, preds, strict=True) if r.expected_action]
    for action in sorted(
        {str(r.expected_action) for r, _ in action_rows}
        | {str(p.action) for _, p in action_rows if p.action and p.outcome == "violating"}
    ):
        per_action[action] = BinaryMetrics(key=action)

    confusion: Counter[tuple[str, str]] = Counter()
    excluded = 0
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for row, pred in zip(rows, preds, strict=True):
        for policy, m in per_policy.items():
            actual = row.label(policy)
            if actual is None:
                m.unknown += 1
                per_flag[policy].unknown += 1
                continue
            m.add(actual, pred.predicted_policy == policy, pred.outcome)
            per_flag[policy].add(actual, pred.flagged_policy == policy, pred.outcome)
        if row.expected_action is not None:
            answered = pred.action if pred.outcome == "violating" else None
            for action, m in per_action.items():
                m.add(str(row.expected_action) == action, str(answered) == action, pred.outcome)
        expected = _expected_label(row, policies)
        if expected is None:
            excluded += 1
        else:
            confusion[(expected, _answer_label(pred))] += 1
        g = groups[row.group or "all"]
        g["n"] += 1
        if pred.outcome in ("abstained", "escalated"):
            g[pred.outcome] += 1
        elif pred.predicted_policy is None:
            g["correct" if not row.positives else "wrong"] += 1
        else:
            verdict = row.label(pred.predicted_policy)
            g["undetermined" if verdict is None else "correct" if verdict else "wrong"] += 1
        if pred.outcome != "escalated":
            flagged = pred.flagged_policy
            if flagged is None:
                g["flag_correct" if not row.positives else "flag_wrong"] += 1
            elif (label := row.label(flagged)) is not None:
                g["flag_correct" if label else "flag_wrong"] += 1

    row_labels = [*sorted({e for e, _ in confusion} - {NONE}), NONE]
    answer_labels = {a for _, a in confusion} - {NONE, "abstained", "escalated"}
    col_labels = [
        *sorted(answer_labels | set(row_labels) - {NONE}),
        NONE,
        "abstained",
        "escalated",
    ]
    matrix = [[confusion[(r, c)] for c in col_labels] for r in row_labels]
    return EvalMetrics(
        n=len(rows),
        outcomes=dict(Counter(p.outcome for p in preds)),
        errors=sum(1 for p in preds if p.mode == "error"),
        policies=list(per_policy.values()),
        flagged=list(per_flag.values()),
        actions=list(per_action.values()),
        confusion=Confusion(rows=row_labels, columns=col_labels, matrix=matrix, excluded=excluded),
        groups=[
            GroupMetrics(
                group=name,
                n=c["n"],
                correct=c["correct"],
                wrong=c["wrong"],
                abstained=c["abstained"],
                escalated=c["escalated"],
                undetermined=c["undetermined"],
                flag_correct=c["flag_correct"],
                flag_wrong=c["flag_wrong"],
            )
            for name, c in sorted(groups.items())
        ],
    )
