"""A colour photograph: real chroma in an RGB source, measured before conversion to grey."""

from __future__ import annotations

import numpy as np

from edgexray.inputcheck.result import Finding
from edgexray.inputcheck.thresholds import ImageCheckThresholds


def colour_photograph(sample: np.ndarray | None, limits: ImageCheckThresholds) -> Finding | None:
    """`sample`: uint8 (N, 3) RGB pixels of the source (None for a grey source). A radiograph saved
    as RGB has equal channels up to compression error; a photograph has many coloured pixels."""
    if sample is None or len(sample) == 0:
        return None
    chroma = sample.max(axis=1).astype(np.int16) - sample.min(axis=1)
    share = float(np.count_nonzero(chroma > limits.colour_chroma)) / len(sample)
    if share <= limits.colour_share:
        return None
    return Finding(
        "colour",
        f"colour photograph ({share:.0%} of pixels coloured > {limits.colour_share:.0%})",
        share,
        limits.colour_share,
    )
