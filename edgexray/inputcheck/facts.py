"""What the image checks look at: facts gathered while an image is decoded and resized, so that no
check decodes anything again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

DepthPolicy = Literal["sbit", "data"]


@dataclass(frozen=True)
class SampleDepth:
    """How a 16-bit grey image was read (edgexray.preprocessing.depth). policy: `sbit` (the PNG
    declared its significant bits and the data fit them) or `data` (the bits its largest value needs, at least 8); bits: the
    depth the image was scaled from (2**bits - 1 becomes 255); low, high: its smallest and largest
    value; declared: the sBIT bits when the file declared some the data do not fit (else None)."""

    policy: DepthPolicy
    bits: int
    low: int
    high: int
    declared: int | None = None

    @property
    def levels(self) -> float:
        """How many of the 255 steps of 8-bit grey the data's range spans once scaled."""
        return (self.high - self.low) * 255 / (2**self.bits - 1)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"policy": self.policy, "bits": self.bits}
        record["range"] = [self.low, self.high]
        if self.declared is not None:
            record["declared_bits"] = self.declared
        return record


@dataclass(frozen=True)
class ImageFacts:
    """source_size: (width, height) of the decoded source, in pixels, before any resize.
    colour_sample: a small uint8 (N, 3) RGB sample of the source's pixels taken before conversion
    to grey, or None when the source had no colour channels.
    pixels: the uint8 (H, W, C) model input before normalization.
    model_size: (width, height) of the model input.
    source: what the result records about the file (a DICOM file's UIDs, view and window), or
    None for plain images.
    film: when asked for (Preprocessor.inspect's film_side), the decoded image the model input was
    made from (a DICOM file windowed as for the model), shrunk for a screen or an overlay.
    depth: how a 16-bit grey file's range was read (sBIT or data; None for other images)."""

    source_size: tuple[int, int]
    colour_sample: np.ndarray | None
    pixels: np.ndarray
    model_size: tuple[int, int]
    source: Mapping[str, Any] | None = None
    film: Image.Image | None = None
    depth: SampleDepth | None = None
