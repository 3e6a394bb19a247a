"""Labelled noise images for the bench tests: one sub-folder per class, so accuracy is reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def labelled_noise_images(
    root: Path, labels: tuple[str, ...], per_class: int, shape: tuple[int, ...], seed: int
) -> Path:
    """Write `per_class` PNGs of uniform noise, `shape` (H, W) grey or (H, W, 3) RGB, under
    root/<label>/; returns root."""
    rng = np.random.default_rng(seed)
    for label in labels:
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root
