"""The small interface every export target implements, and what a conversion is given."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from edgexray_export.class_evidence import class_evidence
from edgexray_export.feature_tap import feature_model
from edgexray_export.keras_loading import LoadedKerasModel
from edgexray_export.metric_gate import MetricGate
from edgexray_export.quantization import QuantizationConfig

from edgexray.card import ModelCard
from edgexray.engines.outputs import EVIDENCE_OUTPUT, FEATURES_OUTPUT, PREDICTION_OUTPUT

INPUT_NAME = "input"
SAVED_MODEL_ENDPOINT = "serve"


@dataclass(frozen=True)
class ConversionInput:
    """Everything a converter may use.

    calibration: preprocessed float32 images (N, H, W, C), the same tensors the model sees at
    inference; calibration_reference: the Keras model's raw outputs for them (N, units), so a
    converter that tries several quantization settings can keep the one closest to Keras.
    card: the variant-independent model card (labels, output kind, threshold), which says how raw
    outputs become probabilities and decisions.
    quality_target: top-1 agreement a quantized variant should reach (0..1).
    metric_gate / calibration_truth: the user's metric gate and the true class of each calibration
    image; with both, a quantization ladder stops only at a setting that also meets the gate.
    debug_quantization: int8 converters that can write a per-layer error report next to the model
    file (tflite-int8: MODEL.quantization-debug.json and .txt) do so.
    model_check_layer: the layer whose feature-map statistics are the features output (see
    feature_tap); None: the head's input.
    calibration_features: the Keras model's features output for the calibration images (N, D),
    None when it has none; calibration_evidence: its class evidence output for them (N, h, w,
    units), None when it has none. The int8 control runs compare every output with Keras.
    verbose: let the converters' own messages through (ONNX Runtime's calibration prints to stdout).
    progress: called with one line when a converter has something to say (a ladder stopped).
    """

    source: LoadedKerasModel
    card: ModelCard
    calibration: np.ndarray
    calibration_reference: np.ndarray
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    quality_target: float = 0.995
    metric_gate: MetricGate | None = None
    calibration_truth: np.ndarray | None = None
    debug_quantization: bool = False
    model_check_layer: str | None = None
    calibration_features: np.ndarray | None = None
    calibration_evidence: np.ndarray | None = None
    verbose: bool = False
    progress: Callable[[str], None] = field(default=lambda _: None, compare=False)


class VariantExporter(ABC):
    """One deployable variant: converts the Keras model into one model file.

    name: the variant's name as users type it (`tflite-int8`); suffix: the file suffix it writes.
    """

    name: ClassVar[str]
    suffix: ClassVar[str]

    @abstractmethod
    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        """Write the variant to `out_path`; return what was done, for the card's `quantization`."""


def graph_outputs(model: Any, map_layer: str | None = None) -> Any | None:
    """A Keras model sharing `model`'s layers whose outputs are named: the prediction
    (PREDICTION_OUTPUT); the model check's features (FEATURES_OUTPUT, feature_tap) when the model
    has them; each cell's share of the logits (EVIDENCE_OUTPUT, class_evidence) when its head allows
    it. One graph, so the backbone runs once for all of them. None when the prediction is all."""
    import keras

    outputs = {}
    two_outputs = feature_model(model, map_layer)
    if two_outputs is not None:
        outputs[FEATURES_OUTPUT] = two_outputs.outputs[1]
    evidence = class_evidence(model)
    if evidence is not None:
        outputs[EVIDENCE_OUTPUT] = evidence
    if not outputs:
        return None
    return keras.Model(model.inputs, {PREDICTION_OUTPUT: model.outputs[0], **outputs})


def serving_function(job: ConversionInput) -> tuple[Any, Any]:
    """A tf.function running the Keras model in inference mode, and its input signature.

    Both converters start from this: `tf2onnx.convert.from_keras` fails on Keras 3 models, and a
    concrete function pins the input shape (batch left open) and keeps Dropout/BatchNorm in inference.
    The function returns the outputs of graph_outputs by name (the runtime finds them by name), or
    the prediction alone for a model with neither features nor class evidence.
    """
    import tensorflow as tf

    info = job.source.info
    model = job.source.model
    spec = tf.TensorSpec(
        (None, info.input_height, info.input_width, info.input_channels), tf.float32, INPUT_NAME
    )

    named = graph_outputs(model, job.model_check_layer)

    @tf.function(input_signature=[spec])
    def serve(x: Any) -> Any:
        if named is None:
            return model(x, training=False)
        return named(x, training=False)

    return serve, spec


def write_saved_model(job: ConversionInput, folder: Path) -> str:
    """Write the model as a SavedModel with one endpoint, `serve` (inference mode); returns its key.

    The TFLite converter reads variables reliably only from a SavedModel: given a Keras 3 model's
    concrete function directly it produced NaN outputs (TF 2.21).
    """
    import keras

    serve, spec = serving_function(job)
    archive = keras.export.ExportArchive()
    archive.track(job.source.model)
    archive.add_endpoint(SAVED_MODEL_ENDPOINT, serve, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)
    return SAVED_MODEL_ENDPOINT
