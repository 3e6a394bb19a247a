"""The appearance check: is an input laid out like the images this model was calibrated on?

The pooled features the model check reads are averaged over the whole image, so they cannot see
where things are: a chest upside down or a knee can pool to the features of a chest. The
appearance check looks at the model input itself, coarsely: the mean over channels, averaged over
a GRID x GRID grid of blocks and standardised per image (so exposure and contrast do not matter,
but polarity and layout do). Its summary is fitted at export on the calibration images, like the
model check's, and an input beyond its threshold is refused before inference (numpy only; about
0.1-0.35 ms per image).
"""

from __future__ import annotations

import numpy as np

from edgexray.inputcheck.result import Finding
from edgexray.modelcheck.score import model_check_finding, score_features
from edgexray.modelcheck.summary import ModelCheckSummary

#: Blocks per side of the coarse layout (256 values per image).
GRID = 16
APPEARANCE_REASON = "laid out unlike the images this model was calibrated on"


def has_room_for_grid(height: int, width: int) -> bool:
    """Whether a model input of this size has at least one pixel per block."""
    return height >= GRID and width >= GRID


def _edges(size: int) -> np.ndarray:
    return np.linspace(0, size, GRID + 1).astype(int)


def appearance_features(batch: np.ndarray) -> np.ndarray:
    """(N, H, W, C) model inputs -> (N, GRID * GRID) coarse layouts, each with mean 0 and
    standard deviation 1 (a uniform image gives zeros). H and W must be at least GRID."""
    x = np.asarray(batch, dtype=np.float32)
    if x.ndim != 4 or not has_room_for_grid(x.shape[1], x.shape[2]):
        raise ValueError(f"expected (N, H, W, C) with H and W >= {GRID}, got {x.shape}")
    rows, columns = _edges(x.shape[1]), _edges(x.shape[2])
    # Block sums along rows, then columns, then over channels: summing the channels of the whole
    # image first is five times slower (a reduction over the last, 3-long axis).
    sums = np.add.reduceat(np.add.reduceat(x, rows[:-1], axis=1), columns[:-1], axis=2)
    pixels = np.outer(np.diff(rows), np.diff(columns)) * x.shape[3]
    blocks = (sums.sum(axis=3, dtype=np.float64) / pixels).reshape(len(x), -1)
    centred = blocks - blocks.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 1e-12)


def appearance_finding(summary: ModelCheckSummary, x: np.ndarray) -> tuple[float, Finding | None]:
    """The appearance score of one model input (H, W, C) and the finding when it is past the
    summary's threshold (None when it passes)."""
    score = float(score_features(summary, appearance_features(x[None]))[0])
    return score, model_check_finding(summary, score, "appearance", APPEARANCE_REASON)
