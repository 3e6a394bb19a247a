"""onnx-int8's control run: the graph the int8 pipeline makes, with nothing rounded.

The model is written exactly as the ladder's first candidate is (ONNX Runtime's quantize_static,
then the float tail), and every rounding is then taken out: a weight's or bias's
DequantizeLinear gives way to its float value from the float model, and an activation's
QuantizeLinear -> DequantizeLinear pair to an Identity, or, where ORT folded a Relu/Clip into the
pair (the pair's range does the activation's clipping), to that Clip. What is left computes in
float on the graph the pipeline made, so it must give the float model's outputs
(edgexray_export.variants.control).

Why not ORT with every node excluded: it writes the float graph unchanged, with no Q/DQ pair and
nothing folded, so the float tail has nothing to do and a graph error in it passes unseen (issue
22's lost ReLU would have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.errors import ExportError
from edgexray_export.variants.control import CONTROL_TOLERANCE
from edgexray_export.variants.onnx_tail import clip_node, folded_activations, prune_dead_qdq

#: Where ORT's QDQ format keeps a weight's float name: `W_quantized` is read by a
#: DequantizeLinear writing `W_DequantizeLinear_Output` (weights) or `W` itself (biases).
_QUANTIZED_SUFFIX = "_quantized"
_DEQUANTIZED_SUFFIX = "_DequantizeLinear_Output"


def _float_name(dq: Any, floats: set[str]) -> str | None:
    quantized, written = str(dq.input[0]), str(dq.output[0])
    for name in (
        quantized.removesuffix(_QUANTIZED_SUFFIX),
        written.removesuffix(_DEQUANTIZED_SUFFIX),
        written,
    ):
        if name in floats:
            return name
    return None


def without_rounding(model: Any, float_model: Any) -> None:
    """Take every rounding out of the QDQ `model`, in place (see the module's docstring).

    float_model: the model `model` was quantized from, for the weights' float values and the
    folded activations. ExportError when a quantized weight has no float value there."""
    from onnx import helper, numpy_helper

    graph = model.graph
    folded = folded_activations(float_model, model)
    floats = {i.name: i for i in float_model.graph.initializer}
    constants = {i.name for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    for node in list(graph.node):
        if node.op_type != "DequantizeLinear":
            continue
        source, written = str(node.input[0]), str(node.output[0])
        if source in constants:
            name = _float_name(node, set(floats))
            if name is None:
                raise ExportError(f"control run: no float value for the quantized weight {source}")
            value = numpy_helper.to_array(floats[name])
            graph.node.remove(node)
            graph.initializer.append(numpy_helper.from_array(value, written))
            continue
        q = producers.get(source)
        if q is None or q.op_type != "QuantizeLinear":
            continue
        tensor = str(q.input[0])
        bounds = folded.get(tensor, folded.get(written))
        if bounds is None:
            replacement = helper.make_node("Identity", [tensor], [written], f"{written}_Identity")
        else:
            replacement = clip_node(graph, tensor, written, bounds)
        position = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(position, replacement)
    prune_dead_qdq(graph)


def write_control(quantized: Path, float_path: Path, out_path: Path) -> None:
    """`quantized` (a QDQ file as the ladder writes it) with its rounding taken out, at
    `out_path`."""
    import onnx

    model = onnx.load(str(quantized))
    without_rounding(model, onnx.load(str(float_path)))
    onnx.save(model, str(out_path))


def first_differing_tensor(
    control: Path, float_path: Path, images: np.ndarray, folder: Path
) -> str | None:
    """The first tensor of `control`, in graph order, whose value on `images` differs from the
    float model's tensor of the same name by more than CONTROL_TOLERANCE of its largest
    magnitude (at least 1), as "'name' (OpType)"; None when none does. A
    tensor written by a node whose activation ORT folded is compared after that activation."""
    import onnx
    from edgexray_export.onnx_layer_errors import activations

    folder.mkdir(parents=True, exist_ok=True)
    got = activations(control, images, folder)
    want = activations(float_path, images, folder)
    graph = onnx.load(str(control)).graph
    folded = folded_activations(onnx.load(str(float_path)), onnx.load(str(control)))
    for node in graph.node:
        for name in node.output:
            if name not in got or name not in want:
                continue
            value = np.concatenate([np.ravel(a) for a in got[name]])
            reference = np.concatenate([np.ravel(a) for a in want[name]])
            if name in folded:
                value = np.clip(value, *folded[name])
            scale = max(1.0, float(np.max(np.abs(reference), initial=0.0)))
            differs = value.shape != reference.shape or not (
                float(np.max(np.abs(value - reference), initial=0.0)) <= CONTROL_TOLERANCE * scale
            )
            if differs:
                return f"'{name}' ({node.op_type})"
    return None
