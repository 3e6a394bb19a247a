"""Which nodes of an ONNX QDQ model hurt: per-node error against float, and contribution to the output.

From ONNX Runtime's QDQ debugging tools (`onnxruntime.quantization.qdq_loss_debug`): both models are
augmented to output every activation (`modify_model_output_intermediate_tensors`), run on the same
images (`collect_activations`), and matched tensor by tensor (`create_activation_matching`). For each
quantized activation (a node's output that goes through QuantizeLinear/DequantizeLinear):

- rmse, rmse_over_scale, max_abs_error, scale: the rounding of that tensor alone (its value before
  the Q/DQ pair against after), in units of its quantization step as in TF's debugger, so the ONNX
  and TFLite reports read the same way;
- sqnr_db: the quantized model's value of the tensor against the float model's, in dB (ORT's
  `compute_activation_error` xmodel_err): the error accumulated up to this node.

The contribution of a node to the final error is measured, not estimated: the model is quantized
again with only that node kept float (`nodes_to_exclude`), and the reduction of the final output's
mean |dp| against the float model is recorded. That costs one quantization per node, so only the
`top` nodes by rmse/scale are probed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.quantization_debug import LayerError
from edgexray_export.variants.onnx_tail import folded_activations

#: Images run through the augmented models (every activation of each is held in memory).
DEBUG_IMAGES = 8
#: Images the final output's error is measured on when probing nodes (only the output is held).
PROBE_IMAGES = 64
#: Nodes probed for their contribution to the final error (one quantization each).
PROBED_NODES = 8


class _Reader:
    """A CalibrationDataReader over images, one per run (ORT's readers are iterated too)."""

    def __init__(self, input_name: str, images: np.ndarray) -> None:
        self._feeds = [{input_name: images[i : i + 1]} for i in range(len(images))]
        self._next = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._next, None)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self._feeds)


def activations(model: Path, images: np.ndarray, folder: Path) -> dict[str, list[np.ndarray]]:
    """Every tensor a node of `model` writes, by name: one array per image of `images` (the model
    augmented by ORT's modify_model_output_intermediate_tensors, written into `folder`)."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        modify_model_output_intermediate_tensors,
    )

    augmented = folder / f"{model.stem}.augmented.onnx"
    modify_model_output_intermediate_tensors(str(model), str(augmented))
    name = onnx.load(str(model), load_external_data=False).graph.input[0].name
    return collect_activations(str(augmented), _Reader(name, images))


def _graph_facts(qdq_model: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """Producer node of each tensor, and the (first) scale of each QuantizeLinear's input tensor."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(qdq_model)).graph
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    scales = {}
    for node in graph.node:
        if node.op_type == "QuantizeLinear" and node.input[1] in constants:
            scales[node.input[0]] = float(np.ravel(constants[node.input[1]])[0])
    return producers, scales


def _sqnr_db(reference: np.ndarray, value: np.ndarray) -> float:
    from onnxruntime.quantization.qdq_loss_debug import compute_signal_to_quantization_noice_ratio

    return float(compute_signal_to_quantization_noice_ratio(reference, value))


def activation_errors(
    float_model: Path, qdq_model: Path, images: np.ndarray, folder: Path
) -> list[LayerError]:
    """One LayerError per quantized activation of `qdq_model` (named by its producing node), in
    graph order, measured on `images` against `float_model` (the model before quantization)."""
    from onnxruntime.quantization.qdq_loss_debug import create_activation_matching

    matching = create_activation_matching(
        activations(qdq_model, images, folder), activations(float_model, images, folder)
    )
    producers, scales = _graph_facts(qdq_model)
    import onnx

    # A Relu/Clip folded into its producer's Q/DQ pair: the clipping is the activation's work.
    folded = folded_activations(onnx.load(str(float_model)), onnx.load(str(qdq_model)))
    order = {out: i for i, node in enumerate(producers.values()) for out in node.output}
    errors = []
    for tensor in sorted(matching, key=lambda t: order.get(t, len(order))):
        match = matching[tensor]
        node = producers.get(tensor)
        if node is None or node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue  # the graph input's own rounding has no node to keep in float
        before = np.concatenate([np.ravel(a) for a in match["pre_qdq"]])
        if tensor in folded:
            before = np.clip(before, *folded[tensor])
        after = np.concatenate([np.ravel(a) for a in match["post_qdq"]])
        rmse = float(np.sqrt(np.mean((before - after) ** 2)))
        scale = scales.get(tensor, 0.0)
        reference = match.get("float")
        errors.append(
            LayerError(
                layer=str(node.name),
                op_type=str(node.op_type),
                rmse=rmse,
                rmse_over_scale=rmse / scale if scale > 0 else float("inf"),
                max_abs_error=float(np.max(np.abs(before - after))),
                scale=scale,
                sqnr_db=(
                    _sqnr_db(np.concatenate([np.ravel(a) for a in reference]), after)
                    if reference
                    else None
                ),
            )
        )
    return errors


def predictions(model: Path, images: np.ndarray) -> np.ndarray:
    """The model's prediction on `images` (its output named so, else its first; a features output
    is left out), run one image per call with ONNX Runtime."""
    import onnxruntime as ort

    from edgexray.engines.outputs import output_positions

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    position = output_positions([o.name for o in session.get_outputs()]).prediction
    return np.concatenate(
        [session.run(None, {name: images[i : i + 1]})[position] for i in range(len(images))]
    )


def output_error(model: Path, images: np.ndarray, reference: np.ndarray) -> float:
    """Mean |difference| of the model's first output against `reference`, one image per call."""
    got = predictions(model, images)
    return float(np.mean(np.abs(got.reshape(reference.shape) - reference)))


def sqnr_drops(errors: list[LayerError], qdq_model: Path) -> dict[str, float]:
    """dB of SQNR each node loses: its quantized inputs' lowest SQNR minus its output's. Nodes fed
    by the graph input (no SQNR: it is exact) count from the rounded input's own SQNR."""
    import onnx

    graph = onnx.load(str(qdq_model)).graph
    producers = {out: node for node in graph.node for out in node.output}
    by_node = {e.layer: e for e in errors}
    tensor_sqnr: dict[str, float] = {}
    for node in graph.node:
        known = by_node[node.name].sqnr_db if node.name in by_node else None
        if known is not None:
            for out in node.output:
                tensor_sqnr[out] = known
    drops = {}
    for node in graph.node:
        error = by_node.get(node.name)
        own = None if error is None else error.sqnr_db
        if error is None or own is None:
            continue
        inputs: list[float] = []
        for name in node.input:
            dq = producers.get(name)
            q = (
                producers.get(dq.input[0])
                if dq is not None and dq.op_type == "DequantizeLinear"
                else None
            )
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] in tensor_sqnr:
                inputs.append(tensor_sqnr[q.input[0]])
        drops[error.layer] = (min(inputs) if inputs else own) - own
    return drops


def with_contributions(
    errors: list[LayerError],
    quantize_keeping_float: Callable[[tuple[str, ...], Path], None],
    float_model: Path,
    probe_order: list[str],
    images: np.ndarray,
    folder: Path,
    top: int = PROBED_NODES,
) -> list[LayerError]:
    """`errors` with `contribution` set for the first `top` nodes of `probe_order`: the final
    output's mean |dp| against the float model with every node quantized, minus the same with only
    that node kept float (`quantize_keeping_float(nodes, path)` writes such a model). Positive:
    keeping it float helps."""
    reference = predictions(float_model, images)
    plain = folder / "probe-plain.onnx"
    quantize_keeping_float((), plain)
    base = output_error(plain, images, reference)
    gains = {}
    for i, node in enumerate(probe_order[:top]):
        path = folder / f"probe-{i}.onnx"
        quantize_keeping_float((node,), path)
        gains[node] = base - output_error(path, images, reference)
    return [
        dataclasses.replace(e, contribution=gains[e.layer]) if e.layer in gains else e
        for e in errors
    ]


def worst_nodes(errors: list[LayerError], drops: dict[str, float]) -> list[str]:
    """Node names, most harmful first: the probed nodes whose float computation helped, largest
    gain first, then the others by the SQNR they lose (largest first)."""
    helped = sorted(
        (e for e in errors if e.contribution is not None and e.contribution > 0),
        key=lambda e: -(e.contribution or 0.0),
    )
    names = [e.layer for e in helped]
    rest = sorted(
        (e.layer for e in errors if e.layer not in names and e.contribution is None),
        key=lambda n: -drops.get(n, 0.0),
    )
    return names + rest
