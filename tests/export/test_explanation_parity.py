"""Export's explanation parity compares the maps of the method the device will use: class evidence
for a model exported with it, occlusion otherwise (numpy only, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_card
from edgexray_export.explain.parity import explanation_parity, reference_maps

from edgexray.postprocess import to_probabilities

CARD = tiny_card("three_rgb")  # multiclass softmax, 16x16


def _predict(batch: np.ndarray) -> np.ndarray:
    """A model that is sure of the label given by which third of the image is brightest."""
    thirds = np.stack([batch[:, :, i * 5 : i * 5 + 5].mean(axis=(1, 2, 3)) for i in range(3)], 1)
    return to_probabilities(8.0 * thirds, CARD)


def _evidence(batch: np.ndarray) -> np.ndarray:
    """Its cells' shares of the logits: (N, 4, 4, 3), each label's share where its third lies."""
    cells = batch.reshape(len(batch), 4, 4, 4, 4, 3).mean(axis=(2, 4, 5))
    shares = np.zeros((len(batch), 4, 4, 3), np.float32)
    for label in range(3):
        shares[:, :, label, label] = cells[:, :, label]
    return shares


X = np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)


def test_a_model_with_class_evidence_is_compared_by_its_class_evidence() -> None:
    reference = reference_maps(X, _predict, CARD, evidence=_evidence)
    assert reference.method == "class-evidence"
    same = explanation_parity(reference, _predict, CARD, evidence=_evidence)
    assert same == (pytest.approx(1.0), pytest.approx(1.0), 4)
    inverted = explanation_parity(reference, _predict, CARD, evidence=lambda b: -_evidence(b))
    assert inverted[0] < -0.5
    with pytest.raises(ValueError, match="class evidence"):
        explanation_parity(reference, _predict, CARD)


def test_a_model_without_it_is_compared_by_occlusion() -> None:
    reference = reference_maps(X, _predict, CARD)
    assert reference.method == "occlusion"
    by_occlusion = explanation_parity(reference, _predict, CARD)
    assert by_occlusion[2] == 4
    # The variant's evidence is not read when the reference is occlusion.
    assert explanation_parity(reference, _predict, CARD, evidence=_evidence) == by_occlusion
