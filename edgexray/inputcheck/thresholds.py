"""Thresholds of the image checks. docs/input-checks.md says why each value was chosen; the
figures behind them come from `python benchmarks/input_check.py`."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ImageCheckThresholds:
    """uniform_std: a frame whose grey levels (0..255, at model input size) have a standard
        deviation below this is nearly uniform. clipped_share: largest share of pixels allowed at the
        extremes (<= 1 or >= 254). flat_share: largest share of pixels allowed within two grey levels
        of one level (a page of text is mostly paper). noise_ratio: mean absolute difference of neighbouring pixels
        divided by the standard deviation; above this the frame is noise-like (white noise gives about
        1.1, a radiograph at model size well under 0.3). colour_chroma: a pixel whose channels differ
        by more than this (max - min, 0..255) is coloured; colour_share: largest share of coloured
        pixels allowed. min_side_fraction: each side of the source must be at least this fraction of
        the model input's side. max_aspect: longest side over shortest side. min_structure: mean absolute
    Laplacian over standard deviation of the model input at about 64 px a side; below this the frame
    is smooth, without edges or texture (gradients give under 0.03, held-out chest radiographs 0.24 or
    more)."""

    uniform_std: float = 8.0
    clipped_share: float = 0.5
    flat_share: float = 0.6
    noise_ratio: float = 0.6
    colour_chroma: float = 24.0
    colour_share: float = 0.05
    min_side_fraction: float = 0.5
    max_aspect: float = 2.0
    min_structure: float = 0.08
    max_structure: float = 0.8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{f.name} must be a finite number >= 0, got {value}")
        for name in ("clipped_share", "flat_share", "colour_share"):
            if getattr(self, name) > 1:
                raise ValueError(f"{name} is a share, 0..1, got {getattr(self, name)}")
        if self.min_structure > self.max_structure:
            raise ValueError(
                f"min_structure ({self.min_structure}) is above max_structure ({self.max_structure})"
            )
        if self.max_aspect < 1:
            raise ValueError(f"max_aspect must be at least 1, got {self.max_aspect}")
