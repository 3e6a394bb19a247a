"""The appearance check: is an input laid out like the images this model was calibrated on?

The pooled features the model check reads are averaged over the whole image, so they cannot see
where things are: a chest upside down or a knee can pool to the features of a chest. The
appearance check looks at the model input itself, coarsely: the mean over channels, averaged over
a fixed GRID x GRID grid of blocks resampled from it by area, whatever the input's size, and
standardised per image (so exposure and contrast do not matter, but polarity and layout do). Its summary is fitted at export on the calibration images, like the
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


def _onto_grid(x: np.ndarray, axis: int) -> np.ndarray:
    """`x` averaged along `axis` onto GRID equal blocks by area: each block is the mean of the
    pixels under it, a pixel cut by a block edge counting for the share inside. On a side that is
    a multiple of GRID each block averages whole pixels; on a side shorter than GRID a block takes
    the one or two pixels under it. Whole pixels are summed from each block's first one to the next
    block's (np.add.reduceat), then the cut pixels' shares are taken off and put on."""
    size = x.shape[axis]
    edges = np.linspace(0.0, float(size), GRID + 1)
    first = edges.astype(int)  # the pixel each edge falls in (size for the last edge)
    share = edges - first  # how much of that pixel lies before the edge
    cut = np.moveaxis(np.take(x, np.minimum(first, size - 1), axis), axis, -1)
    whole = np.moveaxis(np.add.reduceat(x, first[:-1], axis), axis, -1)
    # reduceat gives the first pixel, not nothing, for a block that starts and ends in one pixel.
    whole = np.where(first[:-1] == first[1:], 0.0, whole)
    sums = whole - share[:-1] * cut[..., :-1] + share[1:] * cut[..., 1:]
    return np.moveaxis(sums / (size / GRID), -1, axis)


def appearance_features(batch: np.ndarray) -> np.ndarray:
    """(N, H, W, C) model inputs of any size -> (N, GRID * GRID) coarse layouts, each with mean 0
    and standard deviation 1 (a uniform image gives zeros): the channel mean resampled by area
    onto a fixed GRID x GRID grid (_onto_grid), so every input size has a layout. On sides that
    are multiples of GRID the blocks are those the check had when it needed 16 px or more."""
    x = np.asarray(batch, dtype=np.float32)
    if x.ndim != 4 or min(x.shape[1:]) < 1:
        raise ValueError(f"expected a non-empty (N, H, W, C) batch, got {x.shape}")
    # Rows, then columns, then the channels: averaging the channels of the whole image first is
    # slower (a reduction over the last, 3-long axis of every pixel).
    blocks = _onto_grid(_onto_grid(x, 1), 2)
    layout = blocks.mean(axis=3, dtype=np.float64).reshape(len(x), -1)
    centred = layout - layout.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 1e-6)


def appearance_finding(
    summary: ModelCheckSummary, layout: np.ndarray
) -> tuple[float, Finding | None]:
    """The appearance score of one model input's layout (appearance_features of it, (GRID *
    GRID,)) and the finding when it is past the summary's threshold (None when it passes)."""
    score = float(score_features(summary, layout[None])[0])
    return score, model_check_finding(summary, score, "appearance", APPEARANCE_REASON)
