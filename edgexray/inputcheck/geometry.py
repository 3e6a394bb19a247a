"""Checks on the source's size and shape: a tiny image, an extreme aspect ratio."""

from __future__ import annotations

from edgexray.inputcheck.result import Finding
from edgexray.inputcheck.thresholds import ImageCheckThresholds


def tiny_image(
    source_size: tuple[int, int], model_size: tuple[int, int], limits: ImageCheckThresholds
) -> Finding | None:
    """A source so small that the model would see mostly interpolation: each side must be at least
    `min_side_fraction` of the model input's side."""
    fraction = min(source_size[0] / model_size[0], source_size[1] / model_size[1])
    if fraction >= limits.min_side_fraction:
        return None
    return Finding(
        "tiny",
        f"tiny image ({source_size[0]}x{source_size[1]} px, {fraction:.2f} of the model input's "
        f"{model_size[0]}x{model_size[1]} < {limits.min_side_fraction:g})",
        fraction,
        limits.min_side_fraction,
    )


def aspect_ratio(source_size: tuple[int, int], limits: ImageCheckThresholds) -> Finding | None:
    """A strip or a banner: squeezed into the model's input it would distort the anatomy."""
    width, height = source_size
    ratio = max(width, height) / max(min(width, height), 1)
    if ratio <= limits.max_aspect:
        return None
    return Finding(
        "aspect",
        f"extreme aspect ratio ({width}x{height} px, {ratio:.1f}:1 > {limits.max_aspect:g}:1)",
        ratio,
        limits.max_aspect,
    )
