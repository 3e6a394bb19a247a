"""onnx-int8 without TensorFlow: the float tail, the ONNX layer report and the worst-node ranking,
on a tiny ONNX model built here (Conv-Relu-pool-Gemm-Softmax, plus a second pooled-features
output, as models with a feature tap have) and quantized by ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from edgexray_export.onnx_layer_errors import (  # noqa: E402
    activation_errors,
    predictions,
    sqnr_drops,
    with_contributions,
    worst_nodes,
)
from edgexray_export.quantization_debug import LayerError, write_layer_report  # noqa: E402
from edgexray_export.variants.onnx_tail import float_tail, folded_activations  # noqa: E402

SIDE = 8


def _tiny_float_model(path: Path, hidden: int = 0, map_features: bool = False) -> Path:
    """NHWC float input -> Transpose -> Conv(4) -> Relu -> Conv(4) -> Relu -> GlobalAveragePool
    -> Flatten -> Gemm(3) -> Softmax = `probabilities`; the pooled tensor is also `features`.

    hidden > 0: a Dense+ReLU head before the last Gemm, Gemm(hidden) -> Relu, whose output is
    both `features` and the last Gemm's input (GAP -> Dense(relu) -> Dense, as in Keras models
    fine-tuned with a small head). map_features: `features` are the first ReLU's map averaged
    instead, a branch that leaves the network between its convolutions (--model-check-layer)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    width = hidden or 4
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.5, (4, 4, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b2"),
        numpy_helper.from_array(rng.normal(0, 1.0, (3, width)).astype(np.float32), "w3"),
        numpy_helper.from_array(np.zeros(3, np.float32), "b3"),
    ]
    pooled = "flat" if hidden or map_features else "features"
    head: list = []
    if map_features:
        head = [
            helper.make_node("GlobalAveragePool", ["r1"], ["r1_pooled"], "map_pool"),
            helper.make_node("Flatten", ["r1_pooled"], ["features"], "map_flatten"),
        ]
    if hidden:
        inits.append(
            numpy_helper.from_array(rng.normal(0, 1.0, (hidden, 4)).astype(np.float32), "wh")
        )
        inits.append(numpy_helper.from_array(rng.normal(0, 0.3, hidden).astype(np.float32), "bh"))
        head = [
            helper.make_node("Gemm", ["flat", "wh", "bh"], ["hidden"], "dense", transB=1),
            helper.make_node("Relu", ["hidden"], ["features"], "dense_relu"),
        ]
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], "to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], "relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], "conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], "relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"], "pool"),
        helper.make_node("Flatten", ["pooled"], [pooled], "flatten"),
        *head,
        helper.make_node(
            "Gemm",
            ["flat" if map_features else "features", "w3", "b3"],
            ["logits"],
            "head",
            transB=1,
        ),
        helper.make_node("Softmax", ["logits"], ["probabilities"], "softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, SIDE, SIDE, 1])],
        [
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


class _Reader:
    def __init__(self, images: np.ndarray) -> None:
        self._feeds = iter([{"input": images[i : i + 1]} for i in range(len(images))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


IMAGES = np.random.default_rng(1).random((24, SIDE, SIDE, 1), dtype=np.float32)


def _quantize(float_model: Path, out: Path, exclude: tuple[str, ...] = ()) -> Path:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(float_model),
        str(out),
        _Reader(IMAGES),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(exclude),
    )
    return out


def _on_8_bit_steps(values: np.ndarray) -> bool:
    """True when the values sit on a grid of about 1/255 (an 8-bit output's scale)."""
    gaps = np.diff(np.unique(values))
    step = gaps[gaps > 1e-5].min()
    return bool(step > 1 / 300 and np.allclose(gaps / step, np.round(gaps / step), atol=1e-2))


def _float_plain_and_tail(
    folder: Path, hidden: int = 0, map_features: bool = False
) -> dict[str, Path]:
    """The tiny float model, its plain QDQ form and its QDQ form with the float tail."""
    float_model = _tiny_float_model(folder / "float.onnx", hidden, map_features)
    plain = _quantize(float_model, folder / "plain.onnx")
    tail = folder / "tail.onnx"
    model = onnx.load(str(plain))
    float_tail(model, folded_activations(onnx.load(str(float_model)), model))
    onnx.save(model, str(tail))
    return {"folder": folder, "float": float_model, "plain": plain, "tail": tail}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _float_plain_and_tail(tmp_path_factory.mktemp("onnx_quantization"))


@pytest.fixture(scope="module")
def dense_head(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _float_plain_and_tail(tmp_path_factory.mktemp("dense_head"), hidden=6)


def _producers(path: Path) -> dict[str, str]:
    return {out: n.op_type for n in onnx.load(str(path)).graph.node for out in n.output}


def test_plain_qdq_rounds_the_probabilities_to_steps(models: dict[str, Path]) -> None:
    """What float_tail fixes: ORT's QDQ puts the Softmax output on a 1/256 grid."""
    assert _producers(models["plain"])["probabilities"] == "DequantizeLinear"
    assert _on_8_bit_steps(predictions(models["plain"], IMAGES))


def test_the_tail_runs_in_float_and_every_output_is_continuous(models: dict[str, Path]) -> None:
    producers = _producers(models["tail"])
    assert producers["probabilities"] == "Softmax"
    assert producers["features"] == "Flatten"  # a second output keeps its name, now float too
    # The Relu the quantizer folded into conv2's Q/DQ pair is back as a Clip before the pooling.
    pool = next(
        n for n in onnx.load(str(models["tail"])).graph.node if n.op_type == "GlobalAveragePool"
    )
    assert producers[pool.input[0]] == "Clip"
    model = onnx.load(str(models["tail"]))
    assert [o.name for o in model.graph.output] == ["probabilities", "features"]
    got = predictions(models["tail"], IMAGES)
    want = predictions(models["float"], IMAGES)
    assert not _on_8_bit_steps(got)
    # The int8 convolutions are untouched: their weights stay quantized.
    conv_inputs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert all(_producers(models["tail"])[n.input[1]] == "DequantizeLinear" for n in conv_inputs)
    assert np.abs(got - want).max() < np.abs(predictions(models["plain"], IMAGES) - want).max()
    onnx.checker.check_model(model)


def _outputs(path: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": images}), strict=True))


def test_a_dense_relu_features_output_keeps_the_networks_own_relu(
    dense_head: dict[str, Path],
) -> None:
    """GAP -> Dense(relu) -> Dense: the ReLU's output is both the features output and the last
    Gemm's input. The quantizer folds the ReLU into the Dense's Q/DQ pair; the float tail gives the
    features output its ReLU back, and must leave the network's own path as the plain int8 model
    has it (issue 22: the last Gemm read the unclipped tensor, 62.5% agreement on a real model)."""
    want = _outputs(dense_head["float"], IMAGES)
    got = _outputs(dense_head["tail"], IMAGES)
    # This tiny random model's int8 error; without the network's ReLU it was 0.56.
    assert np.abs(got["probabilities"] - want["probabilities"]).max() < 0.1
    assert np.array_equal(got["probabilities"].argmax(1), want["probabilities"].argmax(1))
    assert got["features"].min() >= 0.0  # the features output has its ReLU
    # The last Gemm reads the features output itself: the restored ReLU, in float.
    graph = onnx.load(str(dense_head["tail"])).graph
    head = next(n for n in graph.node if n.name == "head")
    assert head.input[0] == "features" and _producers(dense_head["tail"])["features"] == "Clip"


def test_a_features_branch_off_a_folded_relu_keeps_the_relu(tmp_path: Path) -> None:
    """Features taken from a feature map between the convolutions (--model-check-layer): the
    branch reads the map before the network's Q/DQ pair, which also did the ReLU ORT folded into
    it; the branch must get the ReLU back (the control run found its statistics 0.41 off)."""
    models = _float_plain_and_tail(tmp_path, map_features=True)
    want = _outputs(models["float"], IMAGES)
    got = _outputs(models["tail"], IMAGES)
    assert got["features"].min() >= 0.0  # means of a ReLU's map
    # Within 1% of their range of the float model's (int8 noise: 0.004 of 0.71; without the ReLU,
    # means of the unclipped map, down to -1.8).
    assert np.abs(got["features"] - want["features"]).max() < 0.01 * want["features"].max()
    # The network keeps its int8 path: conv2 reads the first map through its Q/DQ pair.
    conv2 = next(n for n in onnx.load(str(models["tail"])).graph.node if n.name == "conv2")
    assert _producers(models["tail"])[conv2.input[0]] == "DequantizeLinear"


def test_layer_report_names_nodes_with_error_and_sqnr(models: dict[str, Path]) -> None:
    errors = activation_errors(models["float"], models["plain"], IMAGES[:4], models["folder"])
    by_node = {e.layer: e for e in errors}
    assert {"conv1", "conv2", "head"} <= set(by_node)
    assert by_node["conv1"].op_type == "Conv"
    # The Relu folded into each Conv is the activation's work, not quantization error: about 0.29
    # steps of rounding noise is what remains.
    assert 0.1 < by_node["conv2"].rmse_over_scale < 0.5
    assert all(e.sqnr_db is not None and e.sqnr_db > 10 for e in errors)
    drops = sqnr_drops(errors, models["plain"])
    assert drops["conv2"] > 0


def test_contribution_is_measured_by_keeping_each_node_float(models: dict[str, Path]) -> None:
    folder = models["folder"]
    errors = activation_errors(models["float"], models["plain"], IMAGES[:4], folder)
    probed = with_contributions(
        errors,
        lambda nodes, path: _quantize(models["float"], path, nodes) and None,
        models["float"],
        ["conv2", "conv1"],
        IMAGES,
        folder,
        top=2,
    )
    gains = {e.layer: e.contribution for e in probed}
    assert gains["conv1"] is not None and gains["conv2"] is not None and gains["head"] is None
    json_path, text_path = write_layer_report(probed, folder / "tiny.onnx-int8.onnx")
    rows = json.loads(json_path.read_text())["layers"]
    assert {"layer", "op_type", "rmse_over_scale", "sqnr_db"} <= set(rows[0])
    assert [row["contribution"] is not None for row in rows] == [
        e.layer in ("conv1", "conv2") for e in probed
    ]
    header = text_path.read_text().splitlines()[0]
    assert "SQNR dB" in header and "contribution" in header


def _error(name: str, contribution: float | None) -> LayerError:
    return LayerError(name, "Conv", 0.1, 0.29, 0.2, 0.3, contribution=contribution, sqnr_db=20.0)


def test_worst_nodes_put_measured_gains_first_then_sqnr_loss() -> None:
    errors = [
        _error("a", 0.002),
        _error("b", None),
        _error("c", -0.001),  # probed, keeping it float made things worse: never proposed
        _error("d", 0.005),
        _error("e", None),
    ]
    assert worst_nodes(errors, {"b": 1.0, "e": 3.0}) == ["d", "a", "e", "b"]


def test_rungs_keep_the_ranked_worst_nodes_then_a_prefix_float(models: dict[str, Path]) -> None:
    from edgexray_export.quantization import QuantizationConfig
    from edgexray_export.variants.onnx import _prefix_rungs, _worst_rungs

    base = QuantizationConfig(nodes_to_exclude=("given",))
    worst = _worst_rungs(base, ["conv2", "conv1", "head"])
    assert [r.nodes_to_exclude for r in worst] == [
        ("given", "conv2"),
        ("given", "conv2", "conv1"),
    ]
    prefix = _prefix_rungs(base, models["float"])  # 9 nodes: the first 1, 2, 3, 4 of them
    assert [r.nodes_to_exclude[1:] for r in prefix] == [
        ("to_nchw",),
        ("to_nchw", "conv1"),
        ("to_nchw", "conv1", "relu1"),
        ("to_nchw", "conv1", "relu1", "conv2"),
    ]


def test_the_onnx_budget_needs_both_the_mean_and_the_largest_difference() -> None:
    from edgexray_export.quantization import QuantizationConfig
    from edgexray_export.variants.ladder import Attempt
    from edgexray_export.variants.onnx import _Budget, _close_enough

    job = type("Job", (), {"quality_target": 0.99})()
    close = Attempt("a", agreement=0.9, mean_abs_diff=0.001, max_abs_diff=0.03)
    spiky = Attempt("b", agreement=1.0, mean_abs_diff=0.001, max_abs_diff=0.2)
    both = _Budget.of(QuantizationConfig(onnx_max_mean_abs_diff=0.002, onnx_max_abs_diff=0.05))
    assert _close_enough(close, job, both)  # type: ignore[arg-type]
    assert not _close_enough(spiky, job, both)  # type: ignore[arg-type]
    # Without a budget, top-1 agreement at the quality target decides.
    assert _close_enough(spiky, job, _Budget())  # type: ignore[arg-type]
    assert not _close_enough(close, job, _Budget())  # type: ignore[arg-type]


def test_histogram_calibration_is_capped_by_the_memory_its_activations_take(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgexray_export.quantization import QuantizationConfig
    from edgexray_export.variants import onnx as onnx_variant

    # Shapes inferred, as after ORT's pre-processing: every activation has a known size.
    prepared = models["folder"] / "inferred.onnx"
    onnx.save(onnx.shape_inference.infer_shapes(onnx.load(str(models["float"]))), str(prepared))
    job = type("Job", (), {"calibration": IMAGES})()
    percentile = QuantizationConfig(calibration_method="percentile")
    count = onnx_variant._calibration_images
    assert count(prepared, job, percentile) == len(IMAGES)  # type: ignore[arg-type]
    # Per image: the NCHW input copy, 2 convs and 2 relus (4 x 8 x 8 each), pooled, features,
    # logits and probabilities, in float32. Room for 3 images: 3 images.
    per_image = 4 * (SIDE * SIDE + 4 * 4 * SIDE * SIDE + 4 + 4 + 3 + 3)
    monkeypatch.setattr(onnx_variant, "HISTOGRAM_MEMORY_BYTES", 3 * per_image + 1)
    assert count(prepared, job, percentile) == 3  # type: ignore[arg-type]
    assert count(prepared, job, QuantizationConfig()) == len(IMAGES)  # type: ignore[arg-type]
