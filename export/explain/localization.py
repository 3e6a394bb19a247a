"""Scores of a heatmap against the lesion the synthetic generator drew (its bool mask).

Pointing game: a hit when the map's peak lies inside the lesion, grown by a tolerance (a share of
the map's long side, so the same at any input size). Energy: the share of the map's positive mass
inside the (ungrown) lesion.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from edgexray.explain.heatmap import peak

TOLERANCE = 0.03  # of the map's long side: 8 px at 256, 5 px at 160


def mask_at(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A bool mask stretched to height x width (the model input's frame), nearest neighbour."""
    image = Image.fromarray(np.asarray(mask, dtype=bool))
    return np.asarray(image.resize((width, height), Image.Resampling.NEAREST), dtype=bool)


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` grown by `pixels` in every direction (a square neighbourhood)."""
    if pixels <= 0:
        return mask
    image = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    return np.asarray(image.filter(ImageFilter.MaxFilter(2 * pixels + 1))) > 0


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray, tolerance: float = TOLERANCE) -> bool:
    """True when the heatmap's peak lies in `mask` (same shape) grown by `tolerance`."""
    row, col = peak(heatmap)
    return bool(grow(mask, round(tolerance * max(mask.shape)))[row, col])


def energy_inside(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Share (0..1) of the heatmap's positive mass inside `mask`; 0 for a map with none."""
    positive = np.clip(np.asarray(heatmap, dtype=np.float64), 0, None)
    total = float(positive.sum())
    return float(positive[mask].sum() / total) if total > 0 else 0.0
