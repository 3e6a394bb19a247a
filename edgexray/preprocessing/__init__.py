"""Image decoding, resizing and normalization that match the training pipeline."""

from edgexray.preprocessing.decode import DecodeLimits, load_image
from edgexray.preprocessing.discovery import IMAGE_EXTENSIONS, Discovery, discover_images
from edgexray.preprocessing.transform import Preprocessor

__all__ = [
    "IMAGE_EXTENSIONS",
    "DecodeLimits",
    "Discovery",
    "Preprocessor",
    "discover_images",
    "load_image",
]
