"""The heatmap drawn over the radiograph, with Pillow and numpy only (no matplotlib on a device).

Colour shows evidence for the class (transparent where there is none, so the film stays readable);
a white line outlines the strongest region (at least half the peak).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

# A perceptually ordered dark-blue -> cyan -> green -> yellow -> red scale (turbo-like anchors).
_ANCHORS = np.array(
    [
        [48, 18, 59],
        [40, 150, 230],
        [60, 220, 120],
        [250, 200, 40],
        [200, 30, 10],
    ],
    dtype=np.float32,
)
CONTOUR_LEVEL = 0.5


def colorize(values: np.ndarray) -> np.ndarray:
    """0..1 values (H, W) -> uint8 RGB colours (H, W, 3) on the scale above."""
    positions = np.linspace(0.0, 1.0, len(_ANCHORS))
    v = np.clip(values, 0.0, 1.0)
    channels = [np.interp(v, positions, _ANCHORS[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """The border pixels of a bool mask, two pixels wide."""
    image = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    inner = np.asarray(image.filter(ImageFilter.MinFilter(3))) > 0
    edge = Image.fromarray((mask & ~inner).astype(np.uint8) * 255, "L")
    return np.asarray(edge.filter(ImageFilter.MaxFilter(3))) > 0


def render_overlay(image: Image.Image, heatmap: np.ndarray, alpha: float = 0.55) -> Image.Image:
    """`image` (any mode) in RGB with `heatmap` (any size; stretched over the whole image, as the
    model saw it) blended in. Only positive evidence is drawn, scaled by the map's own peak."""
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = base.shape[:2]
    evidence = np.clip(np.asarray(heatmap, dtype=np.float32), 0, None)
    top = float(evidence.max())
    scaled = evidence / top if top > 0 else evidence
    stretched = Image.fromarray(scaled, "F").resize((width, height), Image.Resampling.BILINEAR)
    values = np.clip(np.asarray(stretched, dtype=np.float32), 0, 1)
    weight = (alpha * values)[..., None]
    out = base * (1 - weight) + colorize(values).astype(np.float32) * weight
    if top > 0:
        out[_outline(values >= CONTOUR_LEVEL)] = 255.0
    return Image.fromarray(np.rint(out).astype(np.uint8), "RGB")
