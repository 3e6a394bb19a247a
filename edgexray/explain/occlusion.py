"""Occlusion sensitivity: cover one window of the image at a time and see how much the score drops.

All occluded copies go to the model as one batch (or a few, `batch_size`), so the cost is a handful
of engine calls whatever the engine: Engine.run runs image by image only when the model's batch
dimension is fixed.

The occluding value is what the model sees as "nothing": the image's own mean in the model's input
space (after normalization), per channel. A flat patch of the mean brightness removes the structure
under the window (texture, edges, opacities) without adding any of its own, unlike black (which
looks like air on a radiograph) or white (which looks like bone or consolidation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# The model on a batch: float32 (N, H, W, C) inputs -> (N, classes) probabilities.
Predict = Callable[[np.ndarray], np.ndarray]


MODES = ("delete", "keep", "both")


@dataclass(frozen=True)
class OcclusionConfig:
    """steps: window positions along each side. The window is 2/(steps+1) of the side and moves by
    half a window, so the windows tile the image with half overlaps whatever the model's input size
    (steps 5 on 256 px: 85 px windows every 43 px, 25 windows).

    mode: "delete" occludes one window at a time and maps how much the probability drops;
    "keep" occludes everything but one window and maps how much probability that window alone
    brings back (above the fully occluded image); "both" averages the two maps at twice the cost.
    Deletion goes blind when the output saturates (an int8 output tops out at 255/256: a confident
    model does not move when one window of a large lesion is covered); keeping does not.
    batch_size: engine images per call (None: all in one call)."""

    steps: int = 5
    mode: str = "keep"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.steps <= 64:
            raise ValueError(f"occlusion steps must be 2..64, got {self.steps}")
        if self.mode not in MODES:
            raise ValueError(f"occlusion mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")

    def window(self, side: int) -> tuple[int, int]:
        """(window, stride) in pixels for an input side of `side` pixels: the stride is the
        nominal distance between window positions (they are spread evenly, so each distance is
        this one rounded either way)."""
        window = max(1, round(2 * side / (self.steps + 1)))
        stride = max(1, round(max(side - window, 0) / (self.steps - 1)))
        return window, stride

    def engine_images(self, height: int, width: int) -> int:
        """Images one explanation sends through the engine: the image itself (its decision), the
        occluded copies and their references."""
        windows = len(_starts(height, self.window(height)[0], self.steps)) * len(
            _starts(width, self.window(width)[0], self.steps)
        )
        per_mode = windows + 1  # the windows and their reference image
        return 1 + (2 * per_mode if self.mode == "both" else per_mode)  # and the original


def _starts(side: int, window: int, steps: int) -> list[int]:
    """`steps` window offsets along one side, evenly spread from the first pixel to the last: the
    first window starts on the edge, the last ends on it. (Stepping by a rounded stride from 0 and
    then adding one window that ends on the edge gave 6 positions instead of 5 on a 224-pixel side,
    the last two 1 pixel apart: 36 windows instead of 25 for the same map.)"""
    span = max(side - window, 0)
    return sorted({round(i * span / (steps - 1)) for i in range(steps)})


def _boxes(height: int, width: int, config: OcclusionConfig) -> list[tuple[int, int, int, int]]:
    win_y, _ = config.window(height)
    win_x, _ = config.window(width)
    return [
        (y, x, min(y + win_y, height), min(x + win_x, width))
        for y in _starts(height, win_y, config.steps)
        for x in _starts(width, win_x, config.steps)
    ]


def _copies(x: np.ndarray, boxes: list[tuple[int, int, int, int]], keep: bool) -> np.ndarray:
    """The reference image, then one copy per box: the box occluded, or everything but the box.
    The reference is `x` itself for deletion and the fully occluded image for keeping."""
    fill = x.reshape(-1, x.shape[-1]).mean(axis=0)
    batch = np.empty((len(boxes) + 1, *x.shape), dtype=np.float32)
    batch[:] = fill if keep else x
    for i, (y0, x0, y1, x1) in enumerate(boxes, start=1):
        batch[i, y0:y1, x0:x1, :] = x[y0:y1, x0:x1, :] if keep else fill
    return batch


def occlusion_map(
    x: np.ndarray,
    predict: Predict,
    config: OcclusionConfig | None = None,
    decided: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Evidence maps of the model input `x` (H, W, C float32) for every class at once.

    predict: float32 (N, H, W, C) -> probabilities (N, classes). decided: the probabilities of `x`
    itself (classes,) when its decision was already made; then `x` is not run again. Returns
    (probabilities of `x` itself, shape (classes,); maps float32 (H, W, classes)): per pixel and
    class, the mean over the windows covering the pixel of the window's evidence (see
    OcclusionConfig.mode; positive: the window supports the class, negative: it argues against it).
    """
    config = config or OcclusionConfig()
    x = np.asarray(x, dtype=np.float32)
    height, width, _ = x.shape
    boxes = _boxes(height, width, config)
    kinds = {"delete": (False,), "keep": (True,), "both": (False, True)}[config.mode]
    # Unless it was decided already, the original image leads the batch, so its probabilities come
    # with the same call.
    lead = [] if decided is not None else [x[None]]
    batch = np.concatenate([*lead, *(_copies(x, boxes, keep) for keep in kinds)])
    size = config.batch_size or len(batch)
    probabilities = np.concatenate(
        [np.asarray(predict(batch[i : i + size]), np.float64) for i in range(0, len(batch), size)]
    )
    if decided is not None:
        original, rest = np.asarray(decided, np.float64), probabilities
    else:
        original, rest = probabilities[0], probabilities[1:]
    evidence = np.zeros((len(boxes), probabilities.shape[1]), dtype=np.float64)
    for k, keep in enumerate(kinds):
        part = rest[k * (len(boxes) + 1) : (k + 1) * (len(boxes) + 1)]
        evidence += (part[1:] - part[0]) if keep else (part[0] - part[1:])
    evidence /= len(kinds)
    total = np.zeros((height, width, evidence.shape[1]), dtype=np.float64)
    count = np.zeros((height, width, 1), dtype=np.float64)
    for value, (y0, x0, y1, x1) in zip(evidence, boxes, strict=True):
        total[y0:y1, x0:x1] += value
        count[y0:y1, x0:x1] += 1
    maps = (total / np.maximum(count, 1)).astype(np.float32)
    return original.astype(np.float32), maps
