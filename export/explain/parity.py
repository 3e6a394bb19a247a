"""Explanation parity: does a variant point where the full Keras model points?

On a few of the held-out parity images, the maps of the method the device uses (edgexray.explain:
class evidence for a model exported with it, occlusion otherwise) of the variant and of the Keras
model are compared, each for the label the Keras model decided: Spearman rank correlation and the
overlap of their top 10% pixels, averaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgexray.card import ModelCard
from edgexray.explain import OcclusionConfig, occlusion_map
from edgexray.explain.agreement import rank_correlation, top_overlap
from edgexray.explain.class_evidence import METHOD as CLASS_EVIDENCE
from edgexray.explain.class_evidence import heatmaps
from edgexray.explain.occlusion import Predict
from edgexray.postprocess import decide

EXPLANATION_IMAGES = 8


#: A model's class evidence on a batch: float32 (N, H, W, C) -> (N, h, w, units).
Evidence = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ReferenceMaps:
    """The Keras model's maps: inputs (N, H, W, C), decided label per image, map per image, and
    the method that made them (CLASS_EVIDENCE or "occlusion")."""

    x: np.ndarray
    labels: np.ndarray
    maps: np.ndarray
    method: str = "occlusion"


def _maps(
    image: np.ndarray,
    predict: Predict,
    card: ModelCard,
    evidence: Evidence | None,
    config: OcclusionConfig | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, per-label maps (H, W, labels)) of one image by the device's method."""
    if evidence is None:
        return occlusion_map(image, predict, config)
    probabilities = predict(image[None])[0]
    binary = card.task == "binary"
    maps = heatmaps(evidence(image[None])[0], probabilities, binary, *image.shape[:2])
    return probabilities, maps


def reference_maps(
    x: np.ndarray,
    predict: Predict,
    card: ModelCard,
    images: int = EXPLANATION_IMAGES,
    config: OcclusionConfig | None = None,
    evidence: Evidence | None = None,
) -> ReferenceMaps:
    """The full model's maps on the first `images` of `x`, for its decided labels: from its class
    evidence (`evidence`, the Keras model's) when it has one, else by occlusion."""
    x = np.asarray(x[:images], dtype=np.float32)
    labels, maps = [], []
    for image in x:
        probabilities, per_class = _maps(image, predict, card, evidence, config)
        k = int(decide(probabilities[None], card)[0])
        labels.append(k)
        maps.append(per_class[..., k])
    method = "occlusion" if evidence is None else CLASS_EVIDENCE
    return ReferenceMaps(x, np.array(labels), np.array(maps), method)


def explanation_parity(
    reference: ReferenceMaps,
    predict: Predict,
    card: ModelCard,
    config: OcclusionConfig | None = None,
    evidence: Evidence | None = None,
) -> tuple[float, float, int]:
    """(mean rank correlation, mean top-10% overlap, images) of the variant's maps against the
    reference maps, each for the label the reference explained, by the reference's method
    (`evidence`: the variant's class evidence, needed when the reference is made of it)."""
    if reference.method == CLASS_EVIDENCE and evidence is None:
        raise ValueError("the reference maps are class evidence: the variant's is needed")
    if reference.method != CLASS_EVIDENCE:
        evidence = None
    correlations, overlaps = [], []
    for image, k, expected in zip(reference.x, reference.labels, reference.maps, strict=True):
        _, per_class = _maps(image, predict, card, evidence, config)
        correlations.append(rank_correlation(per_class[..., k], expected))
        overlaps.append(top_overlap(per_class[..., k], expected))
    return float(np.mean(correlations)), float(np.mean(overlaps)), len(correlations)
