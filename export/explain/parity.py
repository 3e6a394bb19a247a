"""Explanation parity: does a variant point where the full Keras model points?

On a few of the held-out parity images, occlusion maps (edgexray.explain, the method the device
uses) of the variant and of the Keras model are compared, each for the label the Keras model
decided: Spearman rank correlation and the overlap of their top 10% pixels, averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgexray.card import ModelCard
from edgexray.explain import OcclusionConfig, occlusion_map
from edgexray.explain.agreement import rank_correlation, top_overlap
from edgexray.explain.occlusion import Predict
from edgexray.postprocess import decide

EXPLANATION_IMAGES = 8


@dataclass(frozen=True)
class ReferenceMaps:
    """The Keras model's maps: inputs (N, H, W, C), decided label per image, map per image."""

    x: np.ndarray
    labels: np.ndarray
    maps: np.ndarray


def reference_maps(
    x: np.ndarray,
    predict: Predict,
    card: ModelCard,
    images: int = EXPLANATION_IMAGES,
    config: OcclusionConfig | None = None,
) -> ReferenceMaps:
    """Occlusion maps of the full model on the first `images` of `x`, for its decided labels."""
    x = np.asarray(x[:images], dtype=np.float32)
    labels, maps = [], []
    for image in x:
        probabilities, per_class = occlusion_map(image, predict, config)
        k = int(decide(probabilities[None], card)[0])
        labels.append(k)
        maps.append(per_class[..., k])
    return ReferenceMaps(x, np.array(labels), np.array(maps))


def explanation_parity(
    reference: ReferenceMaps, predict: Predict, config: OcclusionConfig | None = None
) -> tuple[float, float, int]:
    """(mean rank correlation, mean top-10% overlap, images) of the variant's maps against the
    reference maps, each for the label the reference explained."""
    correlations, overlaps = [], []
    for image, k, expected in zip(reference.x, reference.labels, reference.maps, strict=True):
        _, per_class = occlusion_map(image, predict, config)
        correlations.append(rank_correlation(per_class[..., k], expected))
        overlaps.append(top_overlap(per_class[..., k], expected))
    return float(np.mean(correlations)), float(np.mean(overlaps)), len(correlations)
