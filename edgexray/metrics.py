"""Classification metrics from labels and predictions, numpy only (the bench command uses them too).

Accuracy, per-class and macro precision/recall/F1, and the confusion matrix, as the source projects
reported them. A class with no predictions (or no examples) gets precision (or recall) 0, not NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 (n_classes, n_classes): row = true class, column = predicted class."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} labels but {p.size} predictions")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"class indices must be in 0..{n_classes - 1}")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall, F1 (0..1) of one class and its number of true examples (support)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """Accuracy (0..1), per-class metrics keyed by label, macro averages, the confusion matrix."""

    labels: tuple[str, ...]
    accuracy: float
    per_class: dict[str, ClassMetrics]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: np.ndarray

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: floats, ints, lists."""
        return {
            "labels": list(self.labels),
            "count": self.count,
            "accuracy": self.accuracy,
            "macro": {
                "precision": self.macro_precision,
                "recall": self.macro_recall,
                "f1": self.macro_f1,
            },
            "per_class": {
                name: {
                    "precision": m.precision,
                    "recall": m.recall,
                    "f1": m.f1,
                    "support": m.support,
                }
                for name, m in self.per_class.items()
            },
            "confusion_matrix": self.confusion.tolist(),
        }


def metrics_from_confusion(confusion: np.ndarray, labels: tuple[str, ...] | list[str]) -> Metrics:
    """All metrics of a confusion matrix (rows true, columns predicted) over `labels`."""
    cm = np.asarray(confusion, dtype=np.int64)
    labels = tuple(labels)
    if cm.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion matrix {cm.shape} does not match {len(labels)} labels")
    tp = np.diag(cm).astype(np.float64)
    precision = _ratio(tp, cm.sum(axis=0))
    recall = _ratio(tp, cm.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = cm.sum()
    per_class = {
        name: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(cm[i].sum()))
        for i, name in enumerate(labels)
    }
    return Metrics(
        labels=labels,
        accuracy=float(tp.sum() / total) if total else 0.0,
        per_class=per_class,
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        confusion=cm,
    )


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...] | list[str]
) -> Metrics:
    """Metrics of predicted class indices `y_pred` against true indices `y_true` (into `labels`)."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, len(labels)), labels)


TASK_METRICS = ("accuracy", "sensitivity", "specificity", "f1", "auroc")


def auroc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for the boolean `positive`, ties counted half
    (the Mann-Whitney statistic); 0.5 when one of the two groups is empty."""
    is_pos = np.asarray(positive, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    n_pos, n_neg = int(is_pos.sum()), int((~is_pos).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # Average rank over runs of equal scores (1-based ranks).
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def task_metric(
    name: str, y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray
) -> float:
    """One figure (0..1) a user gates on. Binary models (2 columns): sensitivity, specificity and
    F1 of the positive class (index 1), AUROC of its probability. More classes: macro averages
    (AUROC one-vs-rest). y_pred: decided class per image; probabilities: (N, classes)."""
    if name not in TASK_METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(TASK_METRICS)}")
    p = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(y_true, dtype=np.int64).ravel()
    n_classes = p.shape[1]
    cm = confusion_matrix(truth, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    recall = _ratio(tp, cm.sum(axis=1))
    negatives = cm.sum() - cm.sum(axis=1)
    specificity = _ratio(negatives - (cm.sum(axis=0) - tp), negatives)
    precision = _ratio(tp, cm.sum(axis=0))
    f1 = _ratio(2 * precision * recall, precision + recall)
    classes = [1] if n_classes == 2 else list(range(n_classes))
    if name == "accuracy":
        return float(tp.sum() / cm.sum()) if cm.sum() else 0.0
    if name == "sensitivity":
        return float(recall[classes].mean())
    if name == "specificity":
        return float(specificity[classes].mean())
    if name == "f1":
        return float(f1[classes].mean())
    return float(np.mean([auroc(truth == c, p[:, c]) for c in classes]))
