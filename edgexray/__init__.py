"""edgexray: run chest X-ray classifiers exported from Keras on low-power devices.

The runtime needs numpy, Pillow, click and one inference engine (LiteRT or ONNX Runtime).
It never imports TensorFlow.

    import edgexray
    clf = edgexray.Classifier("model.tflite")
    print(clf.predict("chest.png").label)
"""

from edgexray import demo
from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.errors import (
    CardError,
    DamagedCardError,
    EdgexrayError,
    EngineError,
    EngineUnavailableError,
    ImageError,
    ModelError,
)
from edgexray.prediction import Prediction

__version__ = "0.1.0"

__all__ = [
    "CardError",
    "CardOverrides",
    "Classifier",
    "ClassifierOptions",
    "DamagedCardError",
    "EdgexrayError",
    "EngineError",
    "EngineUnavailableError",
    "ImageError",
    "ModelCard",
    "ModelError",
    "Prediction",
    "__version__",
    "demo",
]
