"""A variant's own decision threshold: the one at which its sensitivity matches the full model's.

Quantization shifts a binary model's probabilities; at the full model's threshold a variant may
then miss positives the full model caught. Retuning on the labelled calibration images (never the
held-out parity images, which stay an honest check) gives back the full model's sensitivity.
"""

from __future__ import annotations

import numpy as np

_LOWEST, _HIGHEST = 1e-6, 1.0 - 1e-6  # a card threshold lies strictly inside (0, 1)


def sensitivity_at(positive_scores: np.ndarray, threshold: float) -> float:
    """Share of positive images whose positive-class probability reaches `threshold`."""
    scores = np.asarray(positive_scores, dtype=np.float64)
    return float(np.mean(scores >= threshold)) if scores.size else 0.0


def matching_threshold(
    reference: np.ndarray, variant: np.ndarray, truth: np.ndarray, threshold: float
) -> float:
    """The highest threshold at which the variant catches at least as many positives as the full
    model does at `threshold` (highest: it keeps the most specificity). reference/variant: the
    positive-class probability per image; truth: 1 for a positive image, else 0. Returns
    `threshold` unchanged when there are no positive images or the full model catches none."""
    positive = np.asarray(truth) == 1
    caught = int(np.sum(np.asarray(reference)[positive] >= threshold))
    if caught == 0:
        return float(threshold)
    scores = np.sort(np.asarray(variant, dtype=np.float64)[positive])[::-1]
    return float(np.clip(scores[caught - 1], _LOWEST, _HIGHEST))
