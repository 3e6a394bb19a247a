"""Runtime-side parity figures and the saved Keras reference (numpy only, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_card

from edgexray.card import ModelCard
from edgexray.errors import ImageError, ModelError
from edgexray.parity import measure_parity
from edgexray.reference import (
    Reference,
    ReferenceImage,
    file_sha256,
    read_reference,
    write_reference,
)


def _card(**changes: object) -> ModelCard:
    return tiny_card("binary_gray", **{"threshold": None, **changes})


def test_agreement_differences_and_accuracy() -> None:
    reference = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    variant = np.array([[0.8, 0.2], [0.25, 0.75], [0.45, 0.55], [0.3, 0.7]])
    parity = measure_parity(
        reference, variant, _card(), true_labels=np.array([0, 1, 1, 1]), min_agreement=0.99
    )
    assert parity.agreement == 0.75  # the third image flips
    assert parity.max_abs_diff == pytest.approx(0.15)
    assert parity.mean_abs_diff == pytest.approx((0.1 + 0.05 + 0.15 + 0.0) * 2 / 8)
    assert parity.accuracy == 1.0 and parity.reference_accuracy == 0.75
    assert parity.images == 4 and parity.min_agreement == 0.99 and not parity.degraded


def test_binary_decisions_use_the_card_threshold() -> None:
    reference = np.array([[0.65, 0.35]])
    variant = np.array([[0.75, 0.25]])
    assert measure_parity(reference, variant, _card()).agreement == 1.0
    assert measure_parity(reference, variant, _card(threshold=0.3)).agreement == 0.0


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="one shape"):
        measure_parity(np.zeros((2, 2)), np.zeros((3, 2)), _card())


def test_reference_round_trip_and_image_check(tmp_path: Path) -> None:
    root = tmp_path / "cal"
    (root / "NORMAL").mkdir(parents=True)
    image = root / "NORMAL" / "a.png"
    image.write_bytes(b"pretend png")
    reference = Reference(
        labels=("NORMAL", "PNEUMONIA"),
        images=(ReferenceImage("NORMAL/a.png", file_sha256(image), "NORMAL"),),
        probabilities=np.array([[0.875, 0.125]]),
        source_sha256="ab" * 32,
    )
    path = write_reference(tmp_path / "m.reference.json", reference)
    again = read_reference(path)
    assert again.labels == reference.labels and again.images == reference.images
    np.testing.assert_array_equal(again.probabilities, reference.probabilities)
    assert again.true_label_indices().tolist() == [0]
    other_labels = Reference(("COVID", "PNEUMONIA"), again.images, again.probabilities)
    assert other_labels.true_label_indices() is None  # NORMAL is not a label: accuracy unknown
    assert again.image_paths(root) == [image]

    image.write_bytes(b"another image")
    with pytest.raises(ImageError, match="differs"):
        again.image_paths(root)
    (tmp_path / "bad.json").write_text('{"version": 99}')
    with pytest.raises(ModelError, match="unsupported"):
        read_reference(tmp_path / "bad.json")
