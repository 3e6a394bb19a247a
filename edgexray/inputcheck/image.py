"""The image checks, for every model: run them all on the facts of one image."""

from __future__ import annotations

from edgexray.inputcheck.colour import colour_photograph
from edgexray.inputcheck.exposure import (
    clipping,
    flat_background,
    grey_levels,
    noise,
    structure,
    uniform_frame,
)
from edgexray.inputcheck.facts import ImageFacts
from edgexray.inputcheck.geometry import aspect_ratio, tiny_image
from edgexray.inputcheck.result import Finding
from edgexray.inputcheck.thresholds import ImageCheckThresholds

# From this many pixels a side of the grey sample (a model input of 128 px or more), the share
# checks take every other pixel of it.
_HISTOGRAM_SUBSAMPLE_FROM = 64


def check_image(
    facts: ImageFacts, limits: ImageCheckThresholds | None = None
) -> tuple[Finding, ...]:
    """The image checks that fail for `facts`, in a fixed order (geometry, colour, exposure)."""
    limits = limits or ImageCheckThresholds()
    grey = grey_levels(facts.pixels)
    # Spread, clipping and the histogram are shares over the frame: a quarter of the pixels of a
    # large sample gives the same verdicts at a quarter of the work. Noise and structure keep the
    # whole sample: they measure neighbouring pixels.
    levels = grey[::2, ::2] if min(grey.shape) >= _HISTOGRAM_SUBSAMPLE_FROM else grey
    found = (
        tiny_image(facts.source_size, facts.model_size, limits),
        aspect_ratio(facts.source_size, limits),
        colour_photograph(facts.colour_sample, limits),
        uniform_frame(levels, limits),
        clipping(levels, limits),
        flat_background(levels, limits),
        noise(grey, limits),
        structure(grey, limits),
    )
    return tuple(f for f in found if f is not None)
