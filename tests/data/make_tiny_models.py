"""Rebuild the tiny committed test models (needs the [export] extra):

    python tests/data/make_tiny_models.py
    python tests/data/make_tiny_models.py --features   # only the two-output features_gray models
    python tests/data/make_tiny_models.py --evidence   # only the models with class evidence

They let the runtime tests run without TensorFlow. Weights are seeded, so the models are
deterministic; `tiny_reference.npz` holds Keras outputs on fixed inputs for parity checks.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).parent


def build(channels: int, units: int, activation: str | None, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(units, activation=activation)(x)
    return keras.Model(inputs, outputs)


def quadrant_model():
    """A binary model whose evidence is known by construction: it sees only the top-right 8x8
    quadrant of its 16x16 grey input (cropped, padded back with zeros), and says PNEUMONIA when
    that quadrant is bright. A full-size feature map keeps Grad-CAM's frame the image's."""
    import keras

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Cropping2D(((0, 8), (8, 0)))(inputs)
    x = keras.layers.ZeroPadding2D(((0, 8), (8, 0)))(x)
    x = keras.layers.Conv2D(1, 1, activation="relu", name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs, name="quadrant")
    model.layers[3].set_weights([np.ones((1, 1, 1, 1), np.float32), np.zeros(1, np.float32)])
    model.layers[5].set_weights([np.full((1, 1), 40.0, np.float32), np.full(1, -4.0, np.float32)])
    return model


def to_tflite(model, path: Path, int8: bool, samples: np.ndarray) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        full_integer(converter, samples)
    path.write_bytes(converter.convert())


def full_integer(converter, samples: np.ndarray) -> None:
    """Configure a TFLite converter for int8 everywhere, int8 input and output included."""
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def to_onnx(model, path: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="input"),)
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=17)
    path.write_bytes(proto.SerializeToString())


def fails_on_white(path: Path) -> None:
    """binary_gray-shaped ONNX model (16x16x1 -> 1 sigmoid) whose Gather fails at run time, in ONNX
    Runtime's own kernel, on any batch holding a white pixel (1.0 after `unit` normalization): the
    index floor(2 * max) is then 2, out of bounds for a 2-element table. A real engine failure on
    some inputs only, for the tests of the classifier's per-input isolation."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("ReduceMax", ["input"], ["peak"], keepdims=0),
        helper.make_node("Mul", ["peak", "two"], ["scaled"]),
        helper.make_node("Floor", ["scaled"], ["floored"]),
        helper.make_node("Cast", ["floored"], ["index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["table", "index"], ["picked"]),
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["mean", "last"], ["column"]),
        helper.make_node("Mul", ["picked", "zero"], ["nothing"]),
        helper.make_node("Add", ["column", "nothing"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["output"]),
    ]
    constants = [
        helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("table", TensorProto.FLOAT, [2], [0.0, 0.0]),
        helper.make_tensor("last", TensorProto.INT64, [1], [1]),
    ]
    graph = helper.make_graph(
        nodes,
        "fails_on_white",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 16, 16, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1])],
        constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def main() -> None:
    rng = np.random.default_rng(0)
    reference = {}
    for name, channels, units, activation in (
        ("binary_gray", 1, 1, "sigmoid"),
        ("three_rgb", 3, 3, "softmax"),
        ("logits_gray", 1, 3, None),
    ):
        model = build(channels, units, activation, seed=len(name))
        samples = rng.random((32, 16, 16, channels), dtype=np.float32)
        to_tflite(model, HERE / f"{name}.tflite", int8=False, samples=samples)
        to_onnx(model, HERE / f"{name}.onnx")
        if name == "binary_gray":
            to_tflite(model, HERE / f"{name}.int8.tflite", int8=True, samples=samples)
        reference[f"{name}_x"] = samples[:8]
        reference[f"{name}_y"] = model(samples[:8], training=False).numpy()
    np.savez(HERE / "tiny_reference.npz", **reference)
    fails_on_white(HERE / "fails_on_white.onnx")
    quadrant = quadrant_model()
    samples = rng.random((32, 16, 16, 1), dtype=np.float32)
    to_tflite(quadrant, HERE / "quadrant.tflite", int8=False, samples=samples)
    to_tflite(quadrant, HERE / "quadrant.int8.tflite", int8=True, samples=samples)
    to_onnx(quadrant, HERE / "quadrant.onnx")


def features_models() -> None:
    """features_gray: a 3-class grey model exported as edgexray exports, with its pooled features
    (the head's 8-d input) as a second, named output, in .tflite (float and int8 with int8 I/O)
    and .onnx; features_reference.npz holds Keras predictions and features on fixed inputs."""
    import tempfile

    import keras
    import tensorflow as tf
    import tf2onnx
    from edgexray_export.feature_tap import feature_model

    from edgexray.engines.outputs import FEATURES_OUTPUT, PREDICTION_OUTPUT

    keras.utils.set_random_seed(7)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    two = feature_model(model)
    spec = tf.TensorSpec((None, 16, 16, 1), tf.float32, "input")

    @tf.function(input_signature=[spec])
    def serve(x):
        prediction, features = two(x, training=False)
        return {PREDICTION_OUTPUT: prediction, FEATURES_OUTPUT: features}

    samples = np.random.default_rng(3).random((32, 16, 16, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", serve, input_signature=[spec])
        archive.write_out(folder, verbose=False)
        for int8 in (False, True):
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serve"])
            if int8:
                full_integer(converter, samples)
            name = "features_gray.int8.tflite" if int8 else "features_gray.tflite"
            (HERE / name).write_bytes(converter.convert())
    proto, _ = tf2onnx.convert.from_function(serve, input_signature=[spec], opset=17)
    (HERE / "features_gray.onnx").write_bytes(proto.SerializeToString())
    prediction, features = two(samples[:8], training=False)
    np.savez(
        HERE / "features_reference.npz",
        x=samples[:8],
        prediction=np.asarray(prediction),
        features=np.asarray(features),
    )


def _named_outputs_files(model, stem: str, samples: np.ndarray, int8: bool) -> None:
    """`model` with the outputs edgexray's export gives it (graph_outputs: prediction, and class
    evidence for a head that allows it) as stem.tflite, stem.onnx and, with int8, stem.int8.tflite
    (int8 everywhere, I/O included)."""
    import tempfile

    import keras
    import tensorflow as tf
    import tf2onnx
    from edgexray_export.variants.base import graph_outputs

    named = graph_outputs(model)
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, "input")

    @tf.function(input_signature=[spec])
    def serve(x):
        return named(x, training=False)

    with tempfile.TemporaryDirectory() as folder:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", serve, input_signature=[spec])
        archive.write_out(folder, verbose=False)
        for quantized in (False, True) if int8 else (False,):
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serve"])
            if quantized:
                full_integer(converter, samples)
            name = f"{stem}.int8.tflite" if quantized else f"{stem}.tflite"
            (HERE / name).write_bytes(converter.convert())
    proto, _ = tf2onnx.convert.from_function(serve, input_signature=[spec], opset=17)
    (HERE / f"{stem}.onnx").write_bytes(proto.SerializeToString())


def evidence_models() -> None:
    """Models exported with class evidence (export/class_evidence.py): quadrant_evidence, the
    quadrant model (its evidence is the top-right quadrant by construction), in .tflite, int8
    .tflite and .onnx; and three_evidence, a 3-class softmax on GAP -> Dropout -> Dense, in .tflite
    and .onnx, with evidence_reference.npz holding its Keras predictions, class evidence and head
    bias on fixed inputs."""
    import keras
    from edgexray_export.variants.base import graph_outputs

    rng = np.random.default_rng(5)
    samples = rng.random((32, 16, 16, 1), dtype=np.float32)
    _named_outputs_files(quadrant_model(), "quadrant_evidence", samples, int8=True)

    keras.utils.set_random_seed(11)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.5)(x)
    head = keras.layers.Dense(3, activation="softmax")
    model = keras.Model(inputs, head(x))
    head.set_weights([rng.normal(0, 2, (8, 3)).astype(np.float32), np.float32([0.5, -0.25, 0])])
    _named_outputs_files(model, "three_evidence", samples, int8=False)
    outputs = graph_outputs(model)(samples[:8], training=False)
    np.savez(
        HERE / "evidence_reference.npz",
        x=samples[:8],
        prediction=np.asarray(outputs["output"]),
        evidence=np.asarray(outputs["class_evidence"]),
        bias=np.asarray(head.bias),
    )


if __name__ == "__main__":
    import sys

    if "--features" in sys.argv:
        features_models()
    elif "--evidence" in sys.argv:
        evidence_models()
    else:
        main()
