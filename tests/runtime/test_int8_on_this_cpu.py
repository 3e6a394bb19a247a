"""The shipped onnx-int8 gives the same answers on every x86 CPU, not only on the one it was exported on.

ONNX Runtime multiplies u8 x s8 with VPMADDUBSW on x86 CPUs without VNNI (AVX2, AVX-512 without
VNNI), which saturates pairs of products at 16 bits when the weights use the full 8-bit range. The
seed CNN exported that way moved its model-check features by 11-20% on an AVX2-only EPYC, and the
model check then refused every bundled NORMAL sample. Exports default to the `generic` preset:
7-bit weights (reduce_range), which cannot saturate (docs/export.md, "Hardware presets").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgexray import Classifier, ClassifierOptions
from edgexray.demo import bundled_root, sample_images
from edgexray.modelfile import read_model_file

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def quantized_weights(path: Path) -> list[tuple[str, np.ndarray]]:
    """The int8 weight tensors that feed a DequantizeLinear of the file's QDQ graph."""
    from onnx import numpy_helper

    model = onnx.load_from_string(read_model_file(path).payload)
    initializers = {i.name: i for i in model.graph.initializer}
    weights = []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers:
            array = numpy_helper.to_array(initializers[node.input[0]])
            if array.dtype == np.int8 and array.ndim >= 2:  # a conv or dense layer's weights
                weights.append((node.input[0], array))
    return weights


def test_the_demo_int8_weights_use_7_bits() -> None:
    demo = bundled_root() / "demo" / "seed_cnn.onnx-int8.onnx"
    weights = quantized_weights(demo)
    assert weights, "no int8 weights found"
    for name, array in weights:
        # VPMADDUBSW adds two u8 x s8 products in 16 bits: 2 x 255 x 64 = 32,640 fits in 32,767,
        # 2 x 255 x 127 does not. ONNX Runtime's 7-bit symmetric weights span [-64, 64].
        assert int(np.abs(array.astype(np.int16)).max()) <= 64, (name, array.min(), array.max())


@pytest.mark.parametrize("model", ["seed_cnn.onnx-int8.onnx"])
def test_int8_kernels_give_what_the_quantized_graph_computes(model: str) -> None:
    """ONNX Runtime's fused int8 kernels against the same QDQ graph run op by op in float (no graph
    optimization): what the file means. Only a CPU whose kernels saturate makes them differ."""
    path = bundled_root() / "demo" / model
    with Classifier(path, ClassifierOptions(input_check="off")) as clf:
        x = np.stack([clf.prepare(p)[0] for p in sample_images()])
    payload = read_model_file(path).payload

    def run(level: object) -> list[np.ndarray]:
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        session = ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})

    kernels = run(ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    meaning = run(ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    assert np.abs(kernels[0] - meaning[0]).max() < 0.01
    features, reference = kernels[1], meaning[1]
    relative = np.linalg.norm(features - reference, axis=1) / np.linalg.norm(reference, axis=1)
    assert relative.max() < 0.05, relative.round(3)
