"""Decision threshold from the validation precision-recall curve."""

from __future__ import annotations

import numpy as np
import pytest
from edgexray_export.errors import ExportError
from edgexray_export.training.threshold import (
    ThresholdRule,
    choose_threshold,
    precision_recall_curve,
)

# Six examples, scores descending: + + - + - -
Y = np.array([1, 1, 0, 1, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.2])


def test_curve_matches_hand_counts() -> None:
    curve = precision_recall_curve(Y, S)
    assert curve.thresholds.tolist() == [0.2, 0.4, 0.6, 0.7, 0.8, 0.9]
    # t=0.9: 1 TP 0 FP; t=0.7: 2 TP 1 FP; t=0.6: 3 TP 1 FP; t=0.2: 3 TP 3 FP
    assert curve.precision.tolist() == pytest.approx([0.5, 0.6, 0.75, 2 / 3, 1.0, 1.0])
    assert curve.recall.tolist() == pytest.approx([1.0, 1.0, 1.0, 2 / 3, 2 / 3, 1 / 3])


def test_best_f1_threshold() -> None:
    choice = choose_threshold(Y, S)
    assert choice.threshold == pytest.approx(0.6)
    assert choice.f1 == pytest.approx(2 * 0.75 * 1.0 / 1.75)
    assert choice.recall == 1.0


def test_recall_floor_takes_the_highest_threshold_that_keeps_it() -> None:
    assert choose_threshold(Y, S, ThresholdRule(0.6)).threshold == pytest.approx(0.8)
    assert choose_threshold(Y, S, ThresholdRule(0.3)).threshold == pytest.approx(0.9)
    assert choose_threshold(Y, S, ThresholdRule(1.0)).threshold == pytest.approx(0.6)


def test_ties_in_f1_go_to_the_higher_threshold() -> None:
    y = np.array([1, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.6])
    # t=0.9: P1 R.5 F1 2/3; t=0.6: P.5 R1 F1 2/3 -> the higher one wins
    assert choose_threshold(y, s).threshold == pytest.approx(0.9)


def test_threshold_stays_strictly_inside_zero_one() -> None:
    choice = choose_threshold(np.array([1, 1, 0]), np.array([1.0, 1.0, 0.0]))
    assert 0.0 < choice.threshold < 1.0
    assert choice.f1 == 1.0


def test_refuses_data_without_positives_and_bad_floors() -> None:
    with pytest.raises(ExportError, match="positive"):
        choose_threshold(np.array([0, 0]), np.array([0.1, 0.2]))
    with pytest.raises(ExportError):
        ThresholdRule(recall_floor=0.0)
    with pytest.raises(ExportError):
        choose_threshold(np.array([1]), np.array([0.5, 0.2]))
