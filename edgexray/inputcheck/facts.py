"""What the image checks look at: facts gathered while an image is decoded and resized, so that no
check decodes anything again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image


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
    made from (a DICOM file windowed as for the model), shrunk for a screen or an overlay."""

    source_size: tuple[int, int]
    colour_sample: np.ndarray | None
    pixels: np.ndarray
    model_size: tuple[int, int]
    source: Mapping[str, Any] | None = None
    film: Image.Image | None = None
