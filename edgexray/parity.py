"""Compare a variant's probabilities with the full model's: top-1 agreement, |dp|, accuracy.

numpy only, so a device can re-check an exported model against the saved Keras reference
(see edgexray.reference) without TensorFlow. Decisions follow the card (threshold for binary
models, argmax otherwise), exactly as the runtime decides.
"""

from __future__ import annotations

import numpy as np

from edgexray.card import ModelCard, Parity
from edgexray.postprocess import decide


def measure_parity(
    reference: np.ndarray,
    variant: np.ndarray,
    card: ModelCard,
    *,
    true_labels: np.ndarray | None = None,
    min_agreement: float | None = None,
    variant_card: ModelCard | None = None,
) -> Parity:
    """Parity of `variant` against `reference`, both probabilities (N, n_labels) on the same images.

    true_labels: class index per image when known (gives accuracy and reference_accuracy).
    min_agreement: the gate, recorded; `degraded` is left False, the caller decides what to do.
    variant_card: decides the variant's images when it has its own threshold (default `card`);
    decisions_changed (binary models) counts images decided differently at the full model's
    threshold, whatever the variant's own.
    """
    reference = np.asarray(reference, dtype=np.float64)
    variant = np.asarray(variant, dtype=np.float64)
    if reference.shape != variant.shape or reference.ndim != 2 or len(reference) == 0:
        raise ValueError(
            f"parity needs two non-empty (N, labels) arrays of one shape, got "
            f"{reference.shape} and {variant.shape}"
        )
    ref_top = decide(reference, card)
    var_top = decide(variant, variant_card or card)
    diff = np.abs(reference - variant)
    accuracy = reference_accuracy = None
    if true_labels is not None:
        truth = np.asarray(true_labels)
        accuracy = float(np.mean(var_top == truth))
        reference_accuracy = float(np.mean(ref_top == truth))
    return Parity(
        agreement=float(np.mean(ref_top == var_top)),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        images=len(reference),
        accuracy=accuracy,
        reference_accuracy=reference_accuracy,
        min_agreement=min_agreement,
        decisions_changed=(
            int(np.sum(ref_top != decide(variant, card))) if card.task == "binary" else None
        ),
    )


def feature_parity(reference: np.ndarray, variant: np.ndarray) -> dict[str, float]:
    """Pooled-feature parity of a variant against the full model on the same images (N, D):
    Parity's feature_cosine_mean, feature_cosine_min and feature_relative_error."""
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    variant = np.asarray(variant, dtype=np.float64).reshape(len(variant), -1)
    if reference.shape != variant.shape or len(reference) == 0:
        raise ValueError(
            f"feature parity needs two (N, D) arrays of one shape, got {reference.shape} and {variant.shape}"
        )
    norms = np.linalg.norm(reference, axis=1)
    tiny = np.finfo(np.float64).tiny
    cosine = np.sum(reference * variant, axis=1) / np.maximum(
        norms * np.linalg.norm(variant, axis=1), tiny
    )
    error = np.linalg.norm(variant - reference, axis=1) / np.maximum(norms, tiny)
    return {
        "feature_cosine_mean": round(float(np.mean(cosine)), 6),
        "feature_cosine_min": round(float(np.min(cosine)), 6),
        "feature_relative_error": round(float(np.mean(error)), 6),
    }
