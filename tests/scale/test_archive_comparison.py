"""ArchiveComparison: batch by batch, the same figures as bench's arithmetic on the whole archive."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("pyarrow")  # edgexray.scale's records are Arrow tables

from conftest import tiny_card

from edgexray.metrics import classification_metrics
from edgexray.parity import measure_parity
from edgexray.postprocess import decide
from edgexray.scale import ArchiveComparison
from edgexray.scale.variants import OK, REJECTED, UNREADABLE


def _rows(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    positive = rng.random(count)
    reference = np.stack([1 - positive, positive], axis=1)
    variant = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0, 1)
    return {
        "status": np.array([OK] * count, dtype=object),
        "error": np.array([""] * count, dtype=object),
        "truth": rng.integers(0, 2, count),
        "probabilities": np.stack([reference, variant], axis=1),
    }


def test_batches_add_up_to_the_whole_archive():
    card = tiny_card("binary_gray.tflite")
    strict = dataclasses.replace(card, threshold=0.7)  # the variant's own threshold
    rows = _rows(np.random.default_rng(3), 1000)
    whole = ArchiveComparison(("ref", "int8"), (card, strict), reference=0)
    for start in range(0, 1000, 37):  # uneven batches, as Ray yields them
        whole.add({key: value[start : start + 37] for key, value in rows.items()})
    (_, ref_quality), (tally, quality) = whole.rows()
    p = rows["probabilities"]
    expected = measure_parity(p[:, 0], p[:, 1], card, variant_card=strict)
    assert ref_quality.agreement is None and ref_quality.accuracy is not None
    assert quality.agreement == expected.agreement and quality.against == "ref"
    assert tally.decisions_changed == expected.decisions_changed
    assert quality.max_abs_diff == expected.max_abs_diff
    assert quality.mean_abs_diff == pytest.approx(expected.mean_abs_diff, rel=1e-12)
    metrics = classification_metrics(rows["truth"], decide(p[:, 1], strict), card.labels)
    assert quality.metrics == metrics.to_dict()


def test_unread_rejected_and_failed_rows_are_counted_apart():
    card = tiny_card("binary_gray.tflite")
    rows = _rows(np.random.default_rng(4), 6)
    rows["status"][:3] = [UNREADABLE, REJECTED, OK]
    rows["error"][:2] = ["a.png: not an image", "too flat"]
    rows["probabilities"][:2] = np.nan
    rows["probabilities"][2, 1] = np.nan  # the variant's engine failed on row 2
    rows["truth"][3] = -1  # not in a class folder
    comparison = ArchiveComparison(("ref", "int8"), (card, card), reference=0)
    comparison.add(rows)
    (reference, _), (variant, quality) = comparison.rows()
    assert (comparison.unreadable, comparison.rejected, comparison.labelled) == (1, 1, 3)
    assert (reference.images, variant.images, variant.engine_errors) == (4, 3, 1)
    assert quality.parity_images == 3 and quality.metrics["count"] == 2
    assert comparison.examples == ["a.png: not an image", "too flat"]
