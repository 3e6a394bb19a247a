"""Classifier heads of several shapes, each exported to every variant and held to the parity gate.

The shipped models' heads (pooling straight into one Dense) hid a graph error of onnx-int8's float
tail: with a GAP -> Dense(relu) -> Dense head the network lost its ReLU (issue 22: 62.5% agreement
on a fine-tuned Xception). Each head here sits on a small model briefly trained on the synthetic
blobs; every variant must pass the gate (>= 99% top-1 agreement with Keras on the held-out parity
images) and every int8 control run must give Keras's outputs. One case is real-size: the issue's
head on a nested `keras.applications` MobileNet (alpha 0.25, random weights, briefly fitted) at
128 px RGB with symmetric normalization. MobileNet rather than MobileNetV2: tracing MobileNetV2's
155 layers into a SavedModel took 26 s per TFLite variant here, over this family's time budget.

Each test prints its head's agreement and max |dp| per variant; re-measure the table with
`python -m pytest -q tests/export/test_head_shapes.py -rP`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras
from edgexray_export.model_check_layer import HEAD_INPUT
from edgexray_export.pipeline import ParityGateError, export_model
from edgexray_export.report import ExportReport
from edgexray_export.variants import DEFAULT_VARIANTS
from edgexray_export.variants.control import CONTROL_TOLERANCE
from synthetic import fit_briefly, write_folder

from edgexray.modelfile import read_card

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

BINARY = ("NORMAL", "PNEUMONIA")
BRIGHTNESS = ("FAINT", "NORMAL", "PNEUMONIA")  # no blob, a faint one, a bright one
LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
CONTROLLED = ("tflite-int8", "onnx-int8")  # the int8 variants with a ladder and a control run
# Variants that cannot reach the gate on a head, and why (measured; see docs/export.md):
# each must still be below it, so that a fix shows here and the entry goes.
KNOWN_GAPS = {
    ("batchnorm", "onnx-int8-dynamic"): (
        "the Dense before the BatchNorm varies by a few percent of its magnitude across images "
        "and the BatchNorm scales it up 7-30x: its int8 weights and per-call input rounding flip "
        "decisions; onnx-int8-dynamic has no calibration, no ladder and no float fallback (its "
        "control, nothing rounded, reproduces Keras; onnx-int8's ladder keeps that Gemm float)"
    ),
}


@dataclass(frozen=True)
class Head:
    """A model to export: build() gives it untrained; its classes and loss; its input (channels,
    side; scale 255 for a model that rescales raw pixels itself); the model check's layer; the
    epochs that give it margins (after 12, the small heads' logits stayed within +-0.4)."""

    build: Callable[[], keras.Model]
    classes: tuple[str, ...] = BINARY
    loss: object = LOGITS
    channels: int = 1
    side: int = 32
    scale: float = 1.0
    model_check_layer: str = HEAD_INPUT
    epochs: int = 24


def _small(*head: keras.layers.Layer) -> keras.Model:
    """Conv(8) -> MaxPool -> Conv(16) `conv_2` -> GlobalAveragePooling -> `head`, 32x32 gray."""
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    for layer in head:
        x = layer(x)
    return keras.Model(inputs, x)


def _dense(units: int, activation: str | None = None) -> keras.layers.Layer:
    return keras.layers.Dense(units, activation=activation)


def _nested_backbone() -> keras.Model:
    """Issue 22's head, GAP -> Dense(128, relu) -> Dense(2) logits, on a nested MobileNet
    (alpha 0.25, random weights), 128 px RGB, pixels scaled to [-1, 1] by the model."""
    inputs = keras.Input((128, 128, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    backbone = keras.applications.MobileNet(
        alpha=0.25, weights=None, include_top=False, input_shape=(128, 128, 3)
    )
    x = keras.layers.GlobalAveragePooling2D()(backbone(x))
    x = _dense(128, "relu")(x)
    return keras.Model(inputs, _dense(2)(x))


HEADS = {
    "dense_relu_logits": Head(lambda: _small(_dense(16, "relu"), _dense(2))),
    "dropout": Head(lambda: _small(_dense(16, "relu"), keras.layers.Dropout(0.3), _dense(2))),
    "batchnorm": Head(
        lambda: _small(
            _dense(16), keras.layers.BatchNormalization(), keras.layers.ReLU(), _dense(2)
        )
    ),
    "sigmoid": Head(
        lambda: _small(_dense(16, "relu"), _dense(1, "sigmoid")), loss="binary_crossentropy"
    ),
    "softmax": Head(
        lambda: _small(_dense(16, "relu"), _dense(3, "softmax")),
        classes=BRIGHTNESS,
        loss="sparse_categorical_crossentropy",
        epochs=40,
    ),
    "pooled_dropout_logits": Head(lambda: _small(keras.layers.Dropout(0.3), _dense(2))),
    "conv_map_features": Head(
        lambda: _small(_dense(16, "relu"), _dense(2)), model_check_layer="conv_2"
    ),
    "nested_mobilenet_128": Head(_nested_backbone, channels=3, side=128, scale=255.0, epochs=12),
}


# The heads export gives class evidence (export/class_evidence.py): pooling into one Dense layer.
WITH_EVIDENCE = {"pooled_dropout_logits"}
# How far each variant's class evidence may be from Keras's, over the largest |share| on the images
# (measured: float variants 2e-7, fp16 9e-5, dynamic 0.002-0.005, int8 0.007-0.015).
EVIDENCE_TOLERANCE = {
    "tflite-fp16": 0.001,
    "tflite-dynamic": 0.02,
    "onnx-int8-dynamic": 0.02,
    "tflite-int8": 0.08,
    "onnx-int8": 0.08,
}
EVIDENCE_FLOAT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Path]:
    base = tmp_path_factory.mktemp("heads_calibration")
    return {
        BINARY: write_folder(base / "binary", BINARY, 24, seed=3),
        BRIGHTNESS: write_folder(base / "three", BRIGHTNESS, 16, seed=4),
    }


@pytest.fixture(scope="module", params=list(HEADS))
def exported(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    folders: dict[tuple[str, ...], Path],
) -> tuple[str, ExportReport]:
    """One head, trained and exported to every variant (kept even below the gate, to be shown)."""
    name = request.param
    head = HEADS[name]
    keras.utils.set_random_seed(0)
    model = head.build()
    fit_briefly(model, head.classes, head.channels, head.loss, head.scale, head.side, head.epochs)
    folder = tmp_path_factory.mktemp(name)
    model.save(folder / f"{name}.keras")
    try:
        report = export_model(
            folder / f"{name}.keras",
            folder / "out",
            normalize="raw" if head.scale > 1 else "unit",  # scale 255: the model rescales
            calibration_dir=folders[head.classes],
            calibration_size=48,
            variants=list(DEFAULT_VARIANTS),  # `all`, as the CLI says it
            model_check_layer=head.model_check_layer,
            allow_degraded=True,
        )
    except ParityGateError as failed:  # a variant failed outright (its control run, say)
        report = failed.report
    return name, report


def test_every_variant_of_every_head_passes_the_gate(exported: tuple[str, ExportReport]) -> None:
    name, report = exported
    row = ", ".join(
        f"{r.variant} {r.parity.agreement:.1%} max|dp| {r.parity.max_abs_diff:.4f}"
        if r.parity is not None
        else f"{r.variant} {r.status}: {r.error}"
        for r in report.results
    )
    print(f"{name}: {row}")
    assert [r.variant for r in report.results] == list(DEFAULT_VARIANTS)
    below = {r.variant for r in report.results if r.status != "ok"}
    known = {variant for head, variant in KNOWN_GAPS if head == name}
    assert below == known, row
    for result in report.results:
        if result.variant in known:
            continue
        assert result.parity is not None and result.parity.agreement >= 0.99
        # The features the model check reads stay those of Keras (the lost ReLU bent them too).
        cosine = result.parity.feature_cosine_mean
        assert cosine is not None and cosine > 0.98, (result.variant, cosine)


def test_class_evidence_is_exported_where_the_head_allows_it_and_matches_keras(
    exported: tuple[str, ExportReport],
) -> None:
    """Every variant of a head of pooling into one Dense layer carries each cell's share of the
    logits, as Keras computes it; no variant of any other head does."""
    from edgexray_export.variants.base import graph_outputs
    from synthetic import training_arrays

    from edgexray.engines import EngineOptions, open_engine

    name, report = exported
    head = HEADS[name]
    model = keras.models.load_model(report.output_dir.parent / f"{name}.keras")
    x, _ = training_arrays(head.classes, 4, head.channels, seed=9, side=head.side)
    named = graph_outputs(model)
    keras_evidence = None if named is None else named(x * head.scale).get("class_evidence")
    assert (keras_evidence is not None) == (name in WITH_EVIDENCE)
    for result in report.results:
        if result.path is None:
            continue
        engine = open_engine(result.path, EngineOptions(threads=1))
        try:
            evidence = engine.infer(x * head.scale).evidence
        finally:
            engine.close()
        if keras_evidence is None:
            assert evidence is None, result.variant
            continue
        want = np.asarray(keras_evidence)
        assert evidence is not None and evidence.shape == want.shape, result.variant
        error = float(np.abs(evidence - want).max() / np.abs(want).max())
        print(
            f"{name} {result.variant}: class evidence {error:.2g} of its largest share from Keras"
        )
        allowed = EVIDENCE_TOLERANCE.get(result.variant, EVIDENCE_FLOAT_TOLERANCE)
        assert error <= allowed, (result.variant, error)
        # The gate's explanation parity compares these maps (the device's method) with Keras's.
        assert result.parity is not None
        correlation = result.parity.explanation_rank_correlation
        assert correlation is not None and correlation > 0.95, (result.variant, correlation)


def test_every_int8_control_run_reproduces_keras(exported: tuple[str, ExportReport]) -> None:
    name, report = exported
    outputs = {"output", "pooled_features"} | (
        {"class_evidence"} if name in WITH_EVIDENCE else set()
    )
    for variant in CONTROLLED:
        card = read_card(report.result(variant).path)  # type: ignore[arg-type]
        assert card is not None
        control = card.quantization["control_run"]
        differences = control["max_difference"]
        assert set(differences) == outputs
        assert max(differences.values()) <= CONTROL_TOLERANCE == control["tolerance"]
