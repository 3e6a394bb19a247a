"""Which pixel normalization a Keras model expects, read from its graph, never guessed.

A card's `normalize` decides what every device feeds the model, and the parity gate cannot catch a
wrong one (Keras and each variant get the same wrong tensors). So export takes it from the user's
`--normalize`, or from what the model's graph says, and otherwise refuses. What is recognised:

- a **Rescaling layer** as the graph's first operation (also inside a nested model that comes
  first, as in keras.applications EfficientNet): the model scales its own pixels, so it is fed
  0..255 (`raw`);
- a **known keras.applications preprocessing** at the start of the graph: a leading run of
  Rescaling or Normalization layers and elementwise Keras ops (what `preprocess_input` adds when
  it is called on a model's input: TrueDivide, Subtract, Add, Multiply, GetItem, Stack), whose
  result on probe images is, within 1e-3, one of keras.applications' modes: `tf` (x / 127.5 - 1),
  `torch` ((x / 255 - ImageNet mean) / ImageNet std, RGB) or `caffe` (BGR minus the ImageNet mean),
  when fed 0..255 (`raw`) or 0..1 (`unit`). A Normalization layer holding the ImageNet statistics
  (keras.applications ConvNeXt) is the `torch` mode.

Anything else (no preprocessing, or a leading run that maps to none of these) is not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from edgexray_export.errors import ExportError

from edgexray.card import NORMALIZATIONS

#: Operations a keras.applications preprocessing is made of (layers and keras.ops classes).
PREPROCESSING_OPERATIONS = frozenset(
    {
        "Rescaling",
        "Normalization",
        "TrueDivide",
        "Divide",
        "Subtract",
        "Add",
        "Multiply",
        "GetItem",
        "Stack",
        "Concatenate",
    }
)
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
_IMAGENET_STD = np.array([0.229, 0.224, 0.225])
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
_TOLERANCE = 1e-3


def _tf(pixels: np.ndarray) -> np.ndarray:
    return pixels / 127.5 - 1.0


def _torch(pixels: np.ndarray) -> np.ndarray:
    return (pixels / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD


def _caffe(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., ::-1] - _CAFFE_MEAN_BGR


#: keras.applications' preprocess_input modes, as functions of 0..255 pixels; (name, function,
#: channels it applies to).
KNOWN_MODES = (("tf", _tf, (1, 3)), ("torch", _torch, (3,)), ("caffe", _caffe, (3,)))
#: How a card's normalization turns 0..255 pixels into the model's input, for the two a model
#: with its own preprocessing can be fed.
_FED = {"raw": lambda p: p, "unit": lambda p: p / 255.0}


@dataclass(frozen=True)
class Normalization:
    """The card's `normalize` and where it came from (the card's `normalize_source`)."""

    value: str
    source: str

    def __post_init__(self) -> None:
        if self.value not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}")
        if not self.source:
            raise ValueError("a normalization needs its source")


def _probes(shape: tuple[int, int, int]) -> np.ndarray:
    """(P, H, W, C) uniform images of 0..255 pixels: black, white, mid grey and each channel
    alone (which tells the caffe mode's channel order)."""
    channels = shape[2]
    levels = [np.zeros(channels), np.full(channels, 255.0), np.full(channels, 127.0)]
    levels += [np.eye(channels)[c] * 200.0 for c in range(channels)]
    return np.stack([np.broadcast_to(v, shape) for v in levels]).astype(np.float64)


def graph_operations(model: Any) -> list[Any]:
    """The operations of a Keras model's own graph in order: a functional model's layers and ops,
    a Sequential model's layers (it lists no operations)."""
    operations = getattr(model, "operations", None)
    return list(operations if operations is not None else getattr(model, "layers", []))


def _leading(model: Any) -> tuple[list[Any], Any | None]:
    """The model's leading run of preprocessing operations (in graph order), and the nested model
    that follows it when there is one (its own leading run continues the preprocessing)."""
    run: list[Any] = []
    for operation in graph_operations(model):
        name = type(operation).__name__
        if name == "InputLayer":
            continue
        if name in PREPROCESSING_OPERATIONS:
            run.append(operation)
            continue
        nested = operation if graph_operations(operation) else None
        return run, nested
    return run, None


def leading_preprocessing(model: Any) -> list[Any]:
    """The operations at the start of `model`'s own graph that prepare its pixels (Rescaling,
    Normalization, elementwise Keras ops), before any layer that computes features."""
    return _leading(model)[0]


def _prefix_model(model: Any, run: list[Any]) -> Any:
    """A Keras model from `model`'s input to the output of the last operation of `run`."""
    import keras

    return keras.Model(model.inputs[0], run[-1].output)


def _preprocessing(model: Any) -> tuple[list[Any], list[str]]:
    """The preprocessing sub-models to apply in order, and the names of their operations."""
    stages, names = [], []
    while model is not None:
        run, nested = _leading(model)
        if run:
            stages.append(_prefix_model(model, run))
            names += [f"{type(op).__name__} {op.name!r}" for op in run]
        model = nested
    return stages, names


def _apply(stages: list[Any], pixels: np.ndarray) -> np.ndarray:
    x = pixels.astype(np.float32)
    for stage in stages:
        x = np.asarray(stage(x, training=False), dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def _matching_mode(stages: list[Any], shape: tuple[int, int, int]) -> tuple[str, str] | None:
    """(fed as, mode): the card normalization and keras.applications mode the stages match, for
    a model input of `shape` (H, W, C)."""
    channels = shape[2]
    probes = _probes(shape)
    for fed, feed in _FED.items():
        try:
            out = _apply(stages, feed(probes))
        except (ValueError, TypeError):
            return None
        for mode, function, applies in KNOWN_MODES:
            want = function(probes)
            matches = channels in applies and out.shape == want.shape
            if matches and np.allclose(out, want, atol=_TOLERANCE, rtol=0):
                return fed, mode
    return None


def detect_normalization(model: Any, shape: tuple[int, int, int]) -> Normalization | None:
    """The normalization `model`'s graph states (module docstring), or None when it states none;
    `shape`: its input's (H, W, C)."""
    stages, names = _preprocessing(model)
    if not stages:
        return None
    rescaling = [name for name in names if name.startswith("Rescaling ")]
    if rescaling:
        return Normalization("raw", f"Rescaling layer {rescaling[0].split(' ', 1)[1]}")
    found = _matching_mode(stages, shape)
    if found is None:
        return None
    fed, mode = found
    return Normalization(
        fed, f"detected preprocessing: keras.applications {mode!r} mode ({', '.join(names)})"
    )


def choose_normalization(given: str | None, detected: Normalization | None) -> Normalization:
    """The user's `--normalize` when given, else what the graph states; ExportError (one line
    naming the flag and its choices) when neither says."""
    if given is not None:
        return Normalization(given, "flag --normalize")
    if detected is not None:
        return detected
    raise ExportError(
        "the model's pixel normalization is not stated: it starts with no Rescaling layer and "
        "no known keras.applications preprocessing; give --normalize "
        f"({', '.join(NORMALIZATIONS)}) as the model was trained"
    )
