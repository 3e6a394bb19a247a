"""Load a trained Keras model safely and read off what the export needs: input size, colour mode, head.

Accepts a `.keras` file, a legacy `.h5` file or a TensorFlow SavedModel folder. Before anything is
loaded, the saved description is read as data (edgexray_export.model_inspection): a model that could
run code on load (a Lambda layer, a layer not built into Keras, a SavedModel op that touches files
or calls Python) is refused with a one-line ExportError saying what to do instead, unless the user
trusts it (`trust_model`, the CLI's --trust-model). Keras safe mode stays on for untrusted models.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.errors import ExportError
from edgexray_export.model_inspection import unsafe_content
from edgexray_export.normalization import Normalization, detect_normalization

from edgexray.reference import hash_file

# Head activations whose output already is a probability; anything else (linear) gives logits.
_PROBABILITY_ACTIVATIONS = frozenset({"sigmoid", "softmax"})
_LINEAR_ACTIVATIONS = frozenset({"linear", "identity"})


@dataclass(frozen=True)
class KerasModelInfo:
    """Facts about a loaded model that decide how it is exported and described in its card.

    input_height/width: pixels; input_channels: 1 (grayscale) or 3 (rgb).
    output_units: width of the output tensor (1 for a sigmoid binary head).
    output_kind: "probabilities" (sigmoid/softmax head) or "logits" (linear head).
    output_kind_source: how output_kind was found ("head activation ...", "output values").
    normalization: the pixel normalization the model's graph states (a leading Rescaling layer
    or known keras.applications preprocessing, edgexray_export.normalization), None when none.
    source_sha256: hash of the model file, or of a SavedModel folder's files and relative paths.
    """

    name: str
    input_height: int
    input_width: int
    input_channels: int
    output_units: int
    output_kind: str
    output_kind_source: str
    normalization: Normalization | None
    source_sha256: str

    @property
    def color_mode(self) -> str:
        return "grayscale" if self.input_channels == 1 else "rgb"

    @property
    def task(self) -> str:
        return "binary" if self.output_units == 1 else "multiclass"


@dataclass(frozen=True)
class LoadedKerasModel:
    """A Keras model (callable on float32 NHWC batches) and what was learnt about it."""

    model: Any
    info: KerasModelInfo

    def predict_raw(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Float reference outputs for x (float32 N,H,W,C): (N, output_units), never in training mode."""
        return in_batches(
            lambda b: self.model(b, training=False), x, batch_size, np.float64
        ).reshape(len(x), -1)


def in_batches(
    call: Callable[[np.ndarray], Any],
    x: np.ndarray,
    batch_size: int = 32,
    dtype: type[np.floating[Any]] = np.float32,
) -> np.ndarray:
    """`call` (a Keras model or one of its outputs, in inference mode) on `x` a batch of
    `batch_size` at a time, its results as one `dtype` array."""
    return np.concatenate(
        [np.asarray(call(x[i : i + batch_size]), dtype=dtype) for i in range(0, len(x), batch_size)]
    )


def source_sha256(path: Path) -> str:
    """sha256 of a model file, or of a folder's files (relative path and bytes, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        hash_file(digest, file)
    return digest.hexdigest()


def _load_error(path: Path, exc: Exception) -> ExportError:
    text = " ".join(str(exc).split())
    if "Lambda" in text or "lambda" in text:
        return ExportError(
            f"{path.name} contains a Lambda layer, which safe loading refuses because it runs arbitrary "
            "Python; replace it with a built-in layer (e.g. Rescaling) and save the model again"
        )
    if "Could not locate" in text or "Unknown layer" in text or "custom_objects" in text:
        return ExportError(
            f"{path.name} uses a custom layer or function that is not built into Keras ({text[:160]}); "
            "replace it with built-in layers, or export from code that registers it"
        )
    return ExportError(f"cannot load Keras model {path}: {text[:300]}")


def _load_saved_model(path: Path) -> Any:
    """A SavedModel folder wrapped as a Keras model through its serving signature."""
    import keras
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ExportError(f"SavedModel {path} has no 'serving_default' signature to export")
    specs = list(signature.structured_input_signature[1].values())
    if len(specs) != 1:
        raise ExportError(f"SavedModel {path} has {len(specs)} inputs; one image input is expected")
    shape = tuple(specs[0].shape[1:])
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    inputs = keras.Input(shape=shape)
    outputs = layer(inputs)
    if isinstance(outputs, dict):
        if len(outputs) != 1:
            raise ExportError(f"SavedModel {path} has {len(outputs)} outputs; one is expected")
        outputs = next(iter(outputs.values()))
    return keras.Model(inputs, outputs)


def _refuse_untrusted(path: Path) -> None:
    problems = unsafe_content(path)
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise ExportError(
            f"{path.name} holds {problems[0]}{more}, which could run code when loaded: refused; "
            "replace it with a built-in layer (e.g. Rescaling instead of a Lambda) and save the "
            "model again, or pass --trust-model if you trust where the file came from"
        )


def load_model_safely(model_path: str | os.PathLike[str], trust_model: bool = False) -> Any:
    """The Keras model at `model_path` (.keras, .h5, SavedModel folder), inspected before loading.

    Unless `trust_model`, a model holding anything that could run code on load is refused with an
    ExportError before any of it is deserialized, and Keras safe mode stays on. Raises ExportError
    (one line) for a missing or unreadable model too.
    """
    path = Path(model_path)
    if not path.exists():
        raise ExportError(f"model not found: {path}")
    if not trust_model:
        _refuse_untrusted(path)
    if path.is_dir():
        return _load_saved_model(path)
    import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=not trust_model)
    except ExportError:
        raise
    except Exception as exc:  # Keras raises TypeError/ValueError/AttributeError for the same causes
        raise _load_error(path, exc) from None


def _head_layer(model: Any) -> Any:
    """The layer that produces the model's output, looking inside a nested model that is last."""
    history = getattr(model.outputs[0], "_keras_history", None)
    layer = history.operation if history is not None else model.layers[-1]
    if hasattr(layer, "outputs") and hasattr(layer, "layers") and layer.layers:
        return _head_layer(layer)
    return layer


def _activation_name(layer: Any) -> str | None:
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", str(activation)).lower()


def _output_kind_from_values(model: Any, shape: tuple[int, int, int]) -> tuple[str, str]:
    """Probabilities when outputs of random inputs stay in [0, 1] (and rows sum to 1 for N > 1)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(4, *shape)).astype(np.float32)
    y = np.asarray(model(x, training=False), dtype=np.float64).reshape(4, -1)
    in_range = bool(np.all((y >= 0) & (y <= 1)))
    sums_to_one = y.shape[1] == 1 or bool(np.allclose(y.sum(axis=1), 1.0, atol=1e-3))
    kind = "probabilities" if in_range and sums_to_one else "logits"
    return kind, "output values on random inputs"


def _output_kind(model: Any, shape: tuple[int, int, int]) -> tuple[str, str]:
    activation = _activation_name(_head_layer(model))
    if activation in _PROBABILITY_ACTIVATIONS:
        return "probabilities", f"head activation {activation}"
    if activation in _LINEAR_ACTIVATIONS:
        return "logits", f"head activation {activation}"
    return _output_kind_from_values(model, shape)


def load_keras_model(
    model_path: str | os.PathLike[str], trust_model: bool = False
) -> LoadedKerasModel:
    """Load `model_path` (.keras, .h5 or SavedModel folder) with `load_model_safely` and inspect it.

    Raises ExportError (one line) for a missing path, Lambda or unknown custom layers (unless
    `trust_model`), more than one input or output, an input that is not H x W x 1|3 with a fixed size.
    """
    path = Path(model_path)
    model = load_model_safely(path, trust_model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError(
            f"{path.name} has {len(model.inputs)} input(s) and {len(model.outputs)} output(s); "
            "an image classifier with one input and one output is expected"
        )
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 4 or any(d is None for d in in_shape[1:]):
        raise ExportError(
            f"{path.name} input shape is {in_shape}; a fixed (height, width, channels) input is "
            "needed: rebuild the model with keras.Input(shape=(H, W, C))"
        )
    height, width, channels = (int(d) for d in in_shape[1:])
    if channels not in (1, 3):
        raise ExportError(f"{path.name} input has {channels} channels; 1 or 3 are supported")
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2 or out_shape[1] is None:
        raise ExportError(
            f"{path.name} output shape is {out_shape}; a (batch, classes) output is expected"
        )
    kind, kind_source = _output_kind(model, (height, width, channels))
    name = path.stem if path.is_file() else path.name
    info = KerasModelInfo(
        name=name,
        input_height=height,
        input_width=width,
        input_channels=channels,
        output_units=int(out_shape[1]),
        output_kind=kind,
        output_kind_source=kind_source,
        normalization=detect_normalization(model, (height, width, channels)),
        source_sha256=source_sha256(path),
    )
    return LoadedKerasModel(model=model, info=info)
