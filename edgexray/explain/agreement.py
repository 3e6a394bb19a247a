"""How alike two heatmaps of the same image are: rank correlation and top-region overlap.

numpy only, so the quantized variant's maps can be compared with the full model's anywhere.
"""

from __future__ import annotations

import numpy as np

TOP_FRACTION = 0.1


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their average rank (occlusion maps are full of ties)."""
    order = np.argsort(values, kind="stable")
    _, inverse, counts = np.unique(values[order], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average = ends - (counts + 1) / 2
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = average[inverse]
    return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps of one shape, -1..1 (0 when either is flat)."""
    ra = _average_ranks(np.asarray(a, dtype=np.float64).ravel())
    rb = _average_ranks(np.asarray(b, dtype=np.float64).ravel())
    if ra.shape != rb.shape:
        raise ValueError(f"maps differ in size: {np.shape(a)} and {np.shape(b)}")
    ra -= ra.mean()
    rb -= rb.mean()
    norm = float(np.sqrt((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / norm) if norm > 0 else 0.0


def top_overlap(a: np.ndarray, b: np.ndarray, fraction: float = TOP_FRACTION) -> float:
    """Share (0..1) of the `fraction` strongest pixels of `a` that are also among `b`'s."""
    flat_a = np.asarray(a, dtype=np.float64).ravel()
    flat_b = np.asarray(b, dtype=np.float64).ravel()
    k = max(1, round(fraction * flat_a.size))
    top_a = np.argsort(-flat_a, kind="stable")[:k]
    top_b = np.argsort(-flat_b, kind="stable")[:k]
    return float(len(np.intersect1d(top_a, top_b)) / k)
