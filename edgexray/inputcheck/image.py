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


def check_image(
    facts: ImageFacts, limits: ImageCheckThresholds | None = None
) -> tuple[Finding, ...]:
    """The image checks that fail for `facts`, in a fixed order (geometry, colour, exposure)."""
    limits = limits or ImageCheckThresholds()
    grey = grey_levels(facts.pixels)
    found = (
        tiny_image(facts.source_size, facts.model_size, limits),
        aspect_ratio(facts.source_size, limits),
        colour_photograph(facts.colour_sample, limits),
        uniform_frame(grey, limits),
        clipping(grey, limits),
        flat_background(grey, limits),
        noise(grey, limits),
        structure(grey, limits),
    )
    return tuple(f for f in found if f is not None)
