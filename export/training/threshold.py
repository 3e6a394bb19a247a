"""The decision threshold of a binary model, chosen on the validation precision-recall curve.

A screening tool usually cares more about missed disease than about false alarms, so besides the
threshold of best F1 the user can ask for the highest threshold that still keeps recall (of the
positive class, labels[1]) at or above a floor. A prediction is positive when p >= threshold, as in
`edgexray.postprocess.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from edgexray_export.errors import ExportError

# The model card needs 0 < threshold < 1; a score of exactly 0 or 1 is nudged inside.
_EDGE = 1e-6


@dataclass(frozen=True)
class ThresholdRule:
    """recall_floor None: the threshold of best F1. Else the highest threshold with recall >= floor."""

    recall_floor: float | None = None

    def __post_init__(self) -> None:
        if self.recall_floor is not None and not 0 < self.recall_floor <= 1:
            raise ExportError(f"recall floor must be in (0, 1], got {self.recall_floor}")


@dataclass(frozen=True)
class PrecisionRecallCurve:
    """Precision, recall and F1 of the positive class at each candidate threshold (ascending)."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold (0..1 exclusive) and precision, recall, F1 on the data it was chosen on."""

    threshold: float
    precision: float
    recall: float
    f1: float
    rule: str


def precision_recall_curve(y_true: np.ndarray, scores: np.ndarray) -> PrecisionRecallCurve:
    """Precision/recall of "positive when score >= t" for every distinct score t.

    y_true: 0/1 labels (1 = positive). scores: P(positive), same length.
    """
    y = np.asarray(y_true).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape or y.size == 0:
        raise ExportError("threshold selection needs as many scores as labels, at least one")
    if not np.any(y == 1):
        raise ExportError("threshold selection needs at least one positive example")
    thresholds = np.unique(s)
    order = np.argsort(-s, kind="stable")
    sorted_scores, sorted_y = s[order], y[order]
    # For each threshold t: true/false positives among scores >= t (cumulative from the top).
    tp_cum, fp_cum = np.cumsum(sorted_y == 1), np.cumsum(sorted_y == 0)
    last = np.searchsorted(-sorted_scores, -thresholds, side="right") - 1
    tp, fp = tp_cum[last].astype(np.float64), fp_cum[last].astype(np.float64)
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / y.sum()
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return PrecisionRecallCurve(thresholds, precision, recall, f1)


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, rule: ThresholdRule | None = None
) -> ThresholdChoice:
    """Pick the threshold by `rule` on the validation labels and scores (see module docstring).

    Ties in F1 go to the higher threshold (fewer false alarms at the same F1).
    """
    rule = rule or ThresholdRule()
    curve = precision_recall_curve(y_true, scores)
    if rule.recall_floor is None:
        best = np.flatnonzero(curve.f1 == curve.f1.max())[-1]
        name = "best F1"
    else:
        keeping = np.flatnonzero(curve.recall >= rule.recall_floor - 1e-12)
        best = keeping[-1]  # recall never drops as the threshold falls, so the lowest always keeps
        name = f"highest threshold with recall >= {rule.recall_floor:g}"
    threshold = float(np.clip(curve.thresholds[best], _EDGE, 1 - _EDGE))
    return ThresholdChoice(
        threshold=threshold,
        precision=float(curve.precision[best]),
        recall=float(curve.recall[best]),
        f1=float(curve.f1[best]),
        rule=name,
    )
