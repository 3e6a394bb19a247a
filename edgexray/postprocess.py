"""Raw model outputs -> per-class probabilities -> decisions, as the model card says."""

from __future__ import annotations

import numpy as np

from edgexray.card import ModelCard


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free form of 1/(1+e^-x)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def to_probabilities(raw: np.ndarray, card: ModelCard) -> np.ndarray:
    """(N, units) engine outputs -> float32 (N, len(labels)) probabilities, rows summing to 1.

    A binary model's single output is P(labels[1]); it becomes the two columns [1-p, p].
    """
    raw = raw.astype(np.float32, copy=False)
    if card.task == "binary":
        p = raw[:, :1]
        p = _sigmoid(p) if card.output_kind == "logits" else np.clip(p, 0.0, 1.0)
        return np.concatenate([1.0 - p, p], axis=1).astype(np.float32)
    if card.output_kind == "logits":
        return _softmax(raw).astype(np.float32)
    return np.clip(raw, 0.0, 1.0)


def decide(probabilities: np.ndarray, card: ModelCard) -> np.ndarray:
    """Index of the decided label for each row: threshold for binary models, argmax otherwise."""
    if card.task == "binary":
        return (probabilities[:, 1] >= card.decision_threshold).astype(np.int64)
    return probabilities.argmax(axis=1)
