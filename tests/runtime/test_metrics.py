"""edgexray.metrics: confusion matrix and precision/recall/F1 against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgexray.metrics import classification_metrics, confusion_matrix, metrics_from_confusion

LABELS = ("COVID", "NORMAL", "PNEUMONIA")
# rows true, columns predicted
KNOWN = np.array([[8, 1, 1], [0, 9, 1], [2, 0, 8]])


def test_confusion_matrix_counts_true_rows_and_predicted_columns() -> None:
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    assert confusion_matrix(y_true, y_pred, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_metrics_of_a_known_confusion_matrix() -> None:
    m = metrics_from_confusion(KNOWN, LABELS)
    assert m.accuracy == pytest.approx(25 / 30)
    covid = m.per_class["COVID"]
    assert covid.precision == pytest.approx(8 / 10)
    assert covid.recall == pytest.approx(8 / 10)
    assert covid.support == 10
    normal = m.per_class["NORMAL"]
    assert normal.precision == pytest.approx(9 / 10)
    assert normal.recall == pytest.approx(9 / 10)
    pneumonia = m.per_class["PNEUMONIA"]
    assert pneumonia.precision == pytest.approx(8 / 10)
    assert pneumonia.f1 == pytest.approx(0.8)
    assert m.macro_f1 == pytest.approx((0.8 + 0.9 + 0.8) / 3)


def test_from_labels_equals_from_confusion() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    a = classification_metrics(y_true, y_pred, LABELS)
    b = metrics_from_confusion(confusion_matrix(y_true, y_pred, 3), LABELS)
    assert a.to_dict() == b.to_dict()
    assert a.accuracy == pytest.approx(np.mean(y_true == y_pred))


def test_a_never_predicted_class_scores_zero_not_nan() -> None:
    m = classification_metrics([0, 1, 1], [0, 0, 0], ("NORMAL", "PNEUMONIA"))
    p = m.per_class["PNEUMONIA"]
    assert (p.precision, p.recall, p.f1) == (0.0, 0.0, 0.0)
    assert m.per_class["NORMAL"].precision == pytest.approx(1 / 3)
    assert not np.isnan(m.macro_f1)


def test_report_dict_is_json_ready() -> None:
    data = json.loads(json.dumps(metrics_from_confusion(KNOWN, LABELS).to_dict()))
    assert data["confusion_matrix"] == KNOWN.tolist()
    assert data["count"] == 30
    assert set(data["per_class"]) == set(LABELS)


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], 2)
    with pytest.raises(ValueError):
        metrics_from_confusion(np.eye(2), LABELS)


def test_auroc_counts_ordered_pairs_and_ties_half() -> None:
    from edgexray.metrics import auroc

    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auroc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    # pairs (pos, neg): (0.5>0.1) (0.5=0.5 half) (0.7>0.1) (0.7>0.5) -> 3.5 / 4
    assert auroc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.7]) == pytest.approx(3.5 / 4)
    assert auroc([1, 1], [0.1, 0.2]) == 0.5


def test_task_metrics_of_a_binary_model() -> None:
    from edgexray.metrics import task_metric

    y_true = np.array([0, 0, 0, 1, 1])
    y_pred = np.array([0, 1, 0, 1, 0])
    p1 = np.array([0.1, 0.6, 0.3, 0.9, 0.4])
    probs = np.stack([1 - p1, p1], axis=1)
    assert task_metric("accuracy", y_true, y_pred, probs) == pytest.approx(3 / 5)
    assert task_metric("sensitivity", y_true, y_pred, probs) == pytest.approx(1 / 2)
    assert task_metric("specificity", y_true, y_pred, probs) == pytest.approx(2 / 3)
    assert task_metric("f1", y_true, y_pred, probs) == pytest.approx(0.5)  # P 1/2, R 1/2
    assert task_metric("auroc", y_true, y_pred, probs) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="unknown metric"):
        task_metric("kappa", y_true, y_pred, probs)


def test_task_metrics_of_three_classes_are_macro_averages() -> None:
    from edgexray.metrics import task_metric

    probs = np.eye(3)[[0, 1, 2, 0]]
    y_true, y_pred = np.array([0, 1, 2, 1]), np.array([0, 1, 2, 0])
    assert task_metric("sensitivity", y_true, y_pred, probs) == pytest.approx((1 + 0.5 + 1) / 3)
    # specificity: class 0 3 negatives 1 FP -> 2/3; class 1 2/2; class 2 3/3
    assert task_metric("specificity", y_true, y_pred, probs) == pytest.approx((2 / 3 + 1 + 1) / 3)
