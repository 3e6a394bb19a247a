"""Resize and normalize a decoded image exactly as the model card says the model was trained."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from edgexray.card import (
    COLOR_MODES,
    INTERPOLATIONS,
    NORMALIZATIONS,
    ColorMode,
    Interpolation,
    ModelCard,
    Normalize,
)
from edgexray.inputcheck.facts import ImageFacts
from edgexray.preprocessing.decode import (
    Decoded,
    DecodeLimits,
    ImageInput,
    TargetMode,
    decode,
    to_mode,
)
from edgexray.preprocessing.dicom.options import DicomOptions

# Pillow filters. Pillow antialiases when it shrinks (the filter support grows with the scale), which
# is what `keras.utils.load_img` does; `tf.image.resize` does not (see docs/export.md, "Matching the training pipeline").
_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
}
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# keras.applications "caffe" mode (ResNet50, VGG16/19): BGR order, ImageNet mean subtracted, no scaling.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def check_reducing_gap(value: float | None) -> None:
    """ValueError unless None or at least 1 (Pillow's own bound; NaN is refused too)."""
    if value is not None and not value >= 1.0:
        raise ValueError(f"reducing_gap must be at least 1.0 or None, got {value}")


# What a screen or an overlay shows of an image: at most this many pixels on its long side.
DISPLAY_SIDE = 512


@dataclass(frozen=True)
class Preprocessor:
    """Turns an image (path, PIL image or uint8 array) into a float32 HxWxC model input.

    height, width: model input size in pixels. color_mode: grayscale (C=1) or rgb (C=3).
    For grayscale `imagenet` and `caffe`, the channel means (and stds) are averaged.

    reducing_gap: None resizes in one step, exactly as training did. A number (at least 1; Pillow
    recommends 2 to 3) resizes large images in two steps, as Pillow's `reducing_gap` does: first
    a cheap integer reduction (JPEGs are decoded at a reduced scale in the decoder, other images
    are box-averaged by `Image.reduce`), then the card's interpolation over the last factor of at
    least `reducing_gap`. Faster on large images; pixels differ slightly from the one-step resize
    (see docs/bench.md, "Faster decoding").

    dicom: how DICOM files are read (window, header gate; see docs/dicom.md).
    """

    height: int
    width: int
    color_mode: ColorMode = "grayscale"
    normalize: Normalize = "unit"
    interpolation: Interpolation = "bilinear"
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    reducing_gap: float | None = None
    dicom: DicomOptions = field(default_factory=DicomOptions)

    def __post_init__(self) -> None:
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"input size must be positive, got {self.height}x{self.width}")
        check_reducing_gap(self.reducing_gap)
        for name, value, allowed in (
            ("color_mode", self.color_mode, COLOR_MODES),
            ("normalize", self.normalize, NORMALIZATIONS),
            ("interpolation", self.interpolation, INTERPOLATIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} is {value!r}; expected one of {', '.join(allowed)}")

    @classmethod
    def from_card(
        cls,
        card: ModelCard,
        limits: DecodeLimits | None = None,
        reducing_gap: float | None = None,
        dicom: DicomOptions | None = None,
    ) -> Preprocessor:
        """The preprocessing the card describes, with this runtime's decode limits and resize. The
        DICOM gate takes the card's trained views unless `dicom` names its own."""
        dicom = dicom or DicomOptions()
        if dicom.views is None and card.views is not None:
            dicom = dataclasses.replace(dicom, views=card.views)
        return cls(
            height=card.input_height,
            width=card.input_width,
            color_mode=card.color_mode,
            normalize=card.normalize,
            interpolation=card.interpolation,
            limits=limits or DecodeLimits(),
            reducing_gap=reducing_gap,
            dicom=dicom,
        )

    @property
    def pil_mode(self) -> TargetMode:
        return "L" if self.color_mode == "grayscale" else "RGB"

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3

    def resize(
        self, image: Image.Image, box: tuple[float, float, float, float] | None = None
    ) -> Image.Image:
        """`image` (or its `box` region) at the model's input size."""
        if image.size == (self.width, self.height) and box is None:
            return image
        return image.resize(
            (self.width, self.height),
            _FILTERS[self.interpolation],
            box=box,
            reducing_gap=self.reducing_gap,
        )

    @property
    def _draft_size(self) -> tuple[int, int] | None:
        """The smallest decoded size that keeps `reducing_gap` for the final resampling. Square,
        so that it holds whichever way the picture is turned. None for "nearest": Pillow does not
        reduce in two steps for it, and a reduced-scale JPEG decode would average the pixels."""
        if self.reducing_gap is None or self.interpolation == "nearest":
            return None
        side = math.ceil(max(self.width, self.height) * self.reducing_gap)
        return side, side

    def display(self, source: ImageInput, side: int = DISPLAY_SIDE) -> Image.Image:
        """The image as decoded for the model (a DICOM file windowed as for the model, in the
        model's colour mode), before the resize to the input size, shrunk to at most `side` pixels
        on its long side: what a screen or an overlay shows. ImageError as for `pixels`. To show
        an image the model also runs on, ask `inspect` for its film: one decode for both."""
        return self._film(self._decode(source, sample_colour=False), side)

    def pixels(self, source: ImageInput) -> np.ndarray:
        """Decoded and resized, before normalization: uint8 array of shape (H, W, C)."""
        return self.inspect(source, sample_colour=False).pixels

    def inspect(
        self, source: ImageInput, sample_colour: bool = True, film_side: int | None = None
    ) -> ImageFacts:
        """Like `pixels`, with what the input checks need from the source (its size, and a colour
        sample taken before conversion to grey) and what the result records about the file (a
        DICOM file's identifiers and window) gathered on the way. film_side: also the film (what
        `display` gives, at most this many pixels on its long side), from the same decode."""
        decoded = self._decode(source, sample_colour)
        image = self.resize(decoded.image, decoded.box)
        if image.mode != self.pil_mode:
            image = image.convert(self.pil_mode)
        array = np.asarray(image, dtype=np.uint8).reshape(self.height, self.width, self.channels)
        return ImageFacts(
            source_size=decoded.source_size or decoded.image.size,
            colour_sample=decoded.colour_sample,
            pixels=array,
            model_size=(self.width, self.height),
            source=decoded.source,
            film=None if film_side is None else self._film(decoded, film_side),
            depth=decoded.depth,
        )

    def _decode(self, source: ImageInput, sample_colour: bool) -> Decoded:
        # A grey radiograph for an RGB model is resized as one channel, then copied into three:
        # the same pixels as converting first, for a third of the resampling work.
        return decode(
            source,
            self.pil_mode,
            self.limits,
            self._draft_size,
            keep_grey=True,
            sample_colour=sample_colour,
            dicom=self.dicom,
        )

    def _film(self, decoded: Decoded, side: int) -> Image.Image:
        """The decoded picture in the model's colour mode, at most `side` pixels on its long side."""
        image = to_mode(decoded.image, self.pil_mode)
        if image is decoded.image:
            image = image.copy()  # thumbnail works in place
        image.thumbnail((side, side), Image.Resampling.BILINEAR)
        return image

    def prepare(self, source: ImageInput) -> tuple[np.ndarray, Mapping[str, Any] | None]:
        """Model input (as `__call__`) and what the result records about the file (a DICOM file's
        identifiers and window; None for other images)."""
        facts = self.inspect(source, sample_colour=False)
        return self.normalize_pixels(facts.pixels), facts.source

    def normalize_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (..., H, W, C) -> float32 model input, per the card's normalization."""
        x = pixels.astype(np.float32)
        if self.normalize == "unit":
            return x * np.float32(1.0 / 255.0)
        if self.normalize == "symmetric":
            return x * np.float32(1.0 / 127.5) - np.float32(1.0)
        if self.normalize == "imagenet":
            mean, std = _IMAGENET_MEAN, _IMAGENET_STD
            if self.channels == 1:
                mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
            return (x * np.float32(1.0 / 255.0) - mean) / std
        if self.normalize == "caffe":
            if self.channels == 1:
                return x - _CAFFE_MEAN_BGR.mean(keepdims=True)
            return x[..., ::-1] - _CAFFE_MEAN_BGR
        return x  # raw

    def __call__(self, source: ImageInput) -> np.ndarray:
        """Model input for one image: float32 array of shape (H, W, C)."""
        return self.normalize_pixels(self.pixels(source))
