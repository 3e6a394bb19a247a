"""Checks on the grey levels of the model input: nearly uniform frames, heavy clipping, a flat
background (documents, screenshots), noise, a smooth frame without structure (gradients)."""

from __future__ import annotations

import numpy as np

from edgexray.inputcheck.result import Finding
from edgexray.inputcheck.thresholds import ImageCheckThresholds

# On a model input this large or larger, the statistics are taken on every other pixel of each
# other row: a quarter of the work, and the same verdicts, since none of them depends on single
# pixels. Smaller inputs are used whole: at 8x8 even a radiograph looks like noise.
_SUBSAMPLE_FROM = 128


def grey_levels(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> a (h, w) float32 grey sample (channels averaged; every other pixel of
    inputs of at least _SUBSAMPLE_FROM pixels a side)."""
    stride = 2 if min(pixels.shape[:2]) >= _SUBSAMPLE_FROM else 1
    sample = pixels[::stride, ::stride]
    if sample.shape[-1] == 1:
        return sample[..., 0].astype(np.float32)
    return sample.mean(axis=-1, dtype=np.float32)


def uniform_frame(grey: np.ndarray, limits: ImageCheckThresholds) -> Finding | None:
    """A black, white or grey frame: too little contrast to show any anatomy."""
    std = float(grey.std())
    if std >= limits.uniform_std:
        return None
    return Finding(
        "uniform",
        f"nearly uniform frame (grey-level spread {std:.1f} < {limits.uniform_std:g})",
        std,
        limits.uniform_std,
    )


def clipping(grey: np.ndarray, limits: ImageCheckThresholds) -> Finding | None:
    """A frame mostly burnt out to white or crushed to black."""
    share = float(np.count_nonzero((grey <= 1) | (grey >= 254))) / max(grey.size, 1)
    if share <= limits.clipped_share:
        return None
    return Finding(
        "clipping",
        f"heavily clipped ({share:.0%} of pixels at black or white > {limits.clipped_share:.0%})",
        share,
        limits.clipped_share,
    )


def noise(grey: np.ndarray, limits: ImageCheckThresholds) -> Finding | None:
    """A frame of noise: neighbouring pixels differ about as much as any two pixels do."""
    std = float(grey.std())
    if std == 0.0:
        return None  # uniform, reported by its own check
    ratio = (_mean_step(grey, 1) + _mean_step(grey, 0)) / 2.0 / std
    if ratio <= limits.noise_ratio:
        return None
    return Finding(
        "noise",
        f"noise-like frame (neighbour difference {ratio:.2f} x spread > {limits.noise_ratio:g})",
        ratio,
        limits.noise_ratio,
    )


def _mean_step(grey: np.ndarray, axis: int) -> float:
    """Mean absolute difference of neighbouring pixels along `axis` (0 for a single pixel)."""
    if grey.shape[axis] < 2:
        return 0.0
    step = np.diff(grey, axis=axis)
    return float(np.abs(step, out=step).mean())


# Grey levels either side of the most common one that count as "the same level" (JPEG and
# antialiasing spread a flat paper background over a few levels).
_FLAT_WINDOW = 2


def flat_background(grey: np.ndarray, limits: ImageCheckThresholds) -> Finding | None:
    """Most of the frame at one grey level: a page of text, a form or a screenshot. A radiograph's
    grey levels spread over the whole anatomy."""
    counts = np.bincount(np.rint(grey).astype(np.uint8).ravel(), minlength=256)
    window = np.convolve(counts, np.ones(2 * _FLAT_WINDOW + 1, dtype=np.int64), mode="same")
    share = float(window.max()) / max(grey.size, 1)
    if share <= limits.flat_share:
        return None
    return Finding(
        "flat",
        f"mostly one flat grey level, like a document or screenshot ({share:.0%} of pixels > "
        f"{limits.flat_share:.0%})",
        share,
        limits.flat_share,
    )


# The structure check looks at the image at about this many pixels a side: coarse enough that
# sensor grain, JPEG blocks and 8-bit steps average out, fine enough to keep ribs and edges.
_STRUCTURE_SIDE = 64
# Its band was measured at 64-80 px; a model input whose grey sample is smaller than this is not
# judged by it (at 16 px a radiograph is all edges).
_STRUCTURE_MIN_SIDE = 48


def structure(grey: np.ndarray, limits: ImageCheckThresholds) -> Finding | None:
    """How much structure the frame has at about 64 px a side: the mean absolute Laplacian (each
    pixel's departure from its four neighbours, x4) over the standard deviation. A radiograph's
    bones, organ borders and lung markings sit in a narrow band; a linear or radial gradient has
    almost none (`smooth`), a page of text or a noise frame has edges everywhere (`busy`)."""
    if min(grey.shape) < _STRUCTURE_MIN_SIDE:
        return None
    block = max(1, min(grey.shape) // _STRUCTURE_SIDE)
    height, width = grey.shape[0] // block, grey.shape[1] // block
    # Block sums by strided slices (the score is a ratio, so sums do as well as means): a few
    # additions, where reshape().mean() over two axes costs ten times as much.
    coarse = grey[: height * block : block, : width * block : block].copy()
    for i in range(block):
        for j in range(block):
            if i or j:
                coarse += grey[i : height * block : block, j : width * block : block]
    std = float(coarse.std())
    if std == 0.0:
        return None  # uniform, reported by its own check
    laplacian = coarse[1:-1, 1:-1] * 4  # in place from here: this runs on every image
    laplacian -= coarse[:-2, 1:-1]
    laplacian -= coarse[2:, 1:-1]
    laplacian -= coarse[1:-1, :-2]
    laplacian -= coarse[1:-1, 2:]
    score = float(np.abs(laplacian, out=laplacian).mean()) / std
    if score < limits.min_structure:
        return Finding(
            "smooth",
            f"smooth frame without structure, like a gradient (structure {score:.3f} < "
            f"{limits.min_structure:g})",
            score,
            limits.min_structure,
        )
    if score > limits.max_structure:
        return Finding(
            "busy",
            f"edges everywhere, like text or noise (structure {score:.2f} > "
            f"{limits.max_structure:g})",
            score,
            limits.max_structure,
        )
    return None
