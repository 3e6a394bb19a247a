"""Resize and normalize a decoded image exactly as the model card says the model was trained."""

from __future__ import annotations

from dataclasses import dataclass, field

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
from edgexray.preprocessing.decode import DecodeLimits, ImageInput, TargetMode, load_image

# Pillow filters. Pillow antialiases when it shrinks (the filter support grows with the scale), which
# is what `keras.utils.load_img` does; `tf.image.resize` does not (see README).
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


@dataclass(frozen=True)
class Preprocessor:
    """Turns an image (path, PIL image or uint8 array) into a float32 HxWxC model input.

    height, width: model input size in pixels. color_mode: grayscale (C=1) or rgb (C=3).
    For grayscale `imagenet` and `caffe`, the channel means (and stds) are averaged.
    """

    height: int
    width: int
    color_mode: ColorMode = "grayscale"
    normalize: Normalize = "unit"
    interpolation: Interpolation = "bilinear"
    limits: DecodeLimits = field(default_factory=DecodeLimits)

    def __post_init__(self) -> None:
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"input size must be positive, got {self.height}x{self.width}")
        for name, value, allowed in (
            ("color_mode", self.color_mode, COLOR_MODES),
            ("normalize", self.normalize, NORMALIZATIONS),
            ("interpolation", self.interpolation, INTERPOLATIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} is {value!r}; expected one of {', '.join(allowed)}")

    @classmethod
    def from_card(cls, card: ModelCard, limits: DecodeLimits | None = None) -> Preprocessor:
        return cls(
            height=card.input_height,
            width=card.input_width,
            color_mode=card.color_mode,
            normalize=card.normalize,
            interpolation=card.interpolation,
            limits=limits or DecodeLimits(),
        )

    @property
    def pil_mode(self) -> TargetMode:
        return "L" if self.color_mode == "grayscale" else "RGB"

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3

    def resize(self, image: Image.Image) -> Image.Image:
        if image.size == (self.width, self.height):
            return image
        return image.resize((self.width, self.height), _FILTERS[self.interpolation])

    def pixels(self, source: ImageInput) -> np.ndarray:
        """Decoded and resized, before normalization: uint8 array of shape (H, W, C)."""
        image = self.resize(load_image(source, self.pil_mode, self.limits))
        array = np.asarray(image, dtype=np.uint8)
        return array.reshape(self.height, self.width, self.channels)

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
