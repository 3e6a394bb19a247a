"""Input checks: is this an image the model can judge?

Image checks (every model) look at the decoded source and the model input: a nearly uniform
frame, heavy clipping, noise, a smooth frame without structure (a gradient), a colour photograph,
a tiny image, an extreme aspect ratio. One module per family of checks, so `classify`, the Python
API and any later service share them.
"""

from edgexray.inputcheck.facts import ImageFacts
from edgexray.inputcheck.image import check_image
from edgexray.inputcheck.result import (
    DEFAULT_MODE,
    INPUT_CHECK_MODES,
    NOT_CHECKED,
    Finding,
    InputCheck,
    InputCheckMode,
    check_mode,
)
from edgexray.inputcheck.thresholds import ImageCheckThresholds

__all__ = [
    "DEFAULT_MODE",
    "INPUT_CHECK_MODES",
    "NOT_CHECKED",
    "Finding",
    "ImageCheckThresholds",
    "ImageFacts",
    "InputCheck",
    "InputCheckMode",
    "check_image",
    "check_mode",
]
