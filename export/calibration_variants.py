"""Plausible variants of the calibration images, for fitting the input checks' thresholds on more
than the handful of images a user may give.

A variant is what the same film could have looked like on another day: framed a little
differently (scaled 0.9-1.1, shifted up to 5% of each side), exposed differently (a gamma of
0.7-1.4) and, half the time, collimated (one or two edges covered by a band of the shutters'
almost uniform level, bright or black, 2-10% of the side; as export/data/film_marks.py draws them
on synthetic films). It is not turned, mirrored or inverted: those are what the checks refuse.

Variants are made from the model input (N, H, W, C), already preprocessed: the channels' mean,
stretched to 0..1 per image (the checks that read variants standardise each image, so the
stretch does not matter, but gamma needs a 0..1 range). They carry one channel. Seeded.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Variants drawn per calibration image by default.
PER_IMAGE = 8


def _variant(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = grey.shape
    scale = rng.uniform(0.9, 1.1)
    shift_x, shift_y = rng.uniform(-0.05, 0.05, 2)
    crop_w, crop_h = width / scale, height / scale
    centre_x, centre_y = width * (0.5 + shift_x), height * (0.5 + shift_y)
    box = (
        centre_x - crop_w / 2,
        centre_y - crop_h / 2,
        centre_x + crop_w / 2,
        centre_y + crop_h / 2,
    )
    framed = Image.fromarray(grey, "F").transform(
        (width, height), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR
    )
    out = np.clip(np.asarray(framed, dtype=np.float32), 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.5:
        level = rng.uniform(0.82, 0.97) if rng.random() < 0.8 else rng.uniform(0.0, 0.04)
        for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
            band = max(1, round(rng.uniform(0.02, 0.1) * (height if side < 2 else width)))
            if side == 0:
                out[:band] = level
            elif side == 1:
                out[-band:] = level
            elif side == 2:
                out[:, :band] = level
            else:
                out[:, -band:] = level
    return out


def calibration_variants(
    images: np.ndarray, per_image: int = PER_IMAGE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(variants, sources): `per_image` variants of each model input of `images` (N, H, W, C),
    as (N * per_image, H, W, 1) float32 in 0..1, and the index of the image each was made from."""
    x = np.asarray(images, dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((len(x) * per_image, x.shape[1], x.shape[2], 1), dtype=np.float32)
    for i, image in enumerate(x):
        grey = image.mean(axis=-1)
        low, high = float(grey.min()), float(grey.max())
        grey = (grey - low) / max(high - low, 1e-6)
        for j in range(per_image):
            out[i * per_image + j, :, :, 0] = _variant(grey, rng)
    return out, np.repeat(np.arange(len(x)), per_image)
