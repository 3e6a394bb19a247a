"""Keep the tail of a QDQ model in float: no QuantizeLinear/DequantizeLinear after the last weighted op.

ONNX Runtime's static quantizer puts a Q/DQ pair on every activation, the graph outputs included,
so a Softmax/Sigmoid output comes in 1/256 steps and the logits feeding it are rounded to 8 bits.
Both cost accuracy where a clinician's threshold sits and save nothing: the tail (activation,
reshapes, the head's output) is a few hundred numbers per image. This pass removes every Q/DQ pair
met while walking back from each graph output, stopping at the first weighted op (Conv, Gemm,
MatMul): that op's weights stay int8, only its output is no longer rounded. The walk also stops at a
tensor the rest of the network reads on its way to a weighted op (a features output that branches
off a feature map): the branch reads it before its Q/DQ pair, which stays the network's alone, so
the layers before and after the branch point keep their int8 form. Graph
outputs keep their names and count (a model may have several, e.g. probabilities and features).

One catch: the quantizer folds a Relu/Clip that follows a node into that node's Q/DQ pair (the
node writes the activation's output name unclipped; the pair's range does the clipping). Where such
a pair is removed, the activation is put back as a Clip with its own bounds, for every reader of the
pair (an output that the network also reads, such as a Dense+ReLU head input, keeps its ReLU on
both paths), so the float tail computes what the float model does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Ops holding the network's weights: the walk back from an output stops at them.
WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})


def folded_activations(float_model: Any, qdq_model: Any) -> dict[str, tuple[float, float]]:
    """(low, high) of each Relu/Clip of `float_model` that quantization folded away, by the name of
    its output tensor (which the node before it writes in `qdq_model`, unclipped)."""
    from onnx import numpy_helper

    kept = {node.name for node in qdq_model.graph.node}
    graph = float_model.graph
    constants = {
        i.name: float(np.ravel(numpy_helper.to_array(i))[0])
        for i in graph.initializer
        if int(np.prod(i.dims)) == 1
    }
    bounds = {}
    for node in graph.node:
        if node.name in kept or node.op_type not in ("Relu", "Clip"):
            continue
        low, high = 0.0, float("inf")
        if node.op_type == "Clip":
            inputs = [*node.input, "", ""]
            low = constants.get(inputs[1], float("-inf"))
            high = constants.get(inputs[2], float("inf"))
        bounds[str(node.output[0])] = (low, high)
    return bounds


def clip_node(graph: Any, tensor: str, output: str, bounds: tuple[float, float]) -> Any:
    """A Clip node (not yet in the graph) writing `tensor` clipped to `bounds` = (low, high) as
    `output`; its two bounds are added to the graph's initializers (infinite ones as float32's
    largest magnitudes)."""
    from onnx import helper, numpy_helper

    names = []
    for suffix, value in zip(("min", "max"), bounds, strict=True):
        constant = f"{output}_{suffix}"
        clamped = np.float32(np.clip(value, -np.finfo(np.float32).max, np.finfo(np.float32).max))
        graph.initializer.append(numpy_helper.from_array(np.array(clamped), constant))
        names.append(constant)
    return helper.make_node("Clip", [tensor, *names], [output], f"{output}_Clip")


def _producers(graph: Any) -> dict[str, Any]:
    return {out: node for node in graph.node for out in node.output}


def _rounded_source(tensor: str, producers: dict[str, Any]) -> str | None:
    """The float tensor x when `tensor` is DequantizeLinear(QuantizeLinear(x)), else None."""
    dq = producers.get(tensor)
    if dq is None or dq.op_type != "DequantizeLinear":
        return None
    q = producers.get(dq.input[0])
    if q is None or q.op_type != "QuantizeLinear":
        return None
    return str(q.input[0])


def _feeding_weighted_ops(graph: Any, producers: dict[str, Any]) -> set[str]:
    """The tensors a weighted op reads, directly or through other ops: the network's own path."""
    found: set[str] = set()
    pending = [name for node in graph.node if node.op_type in WEIGHTED_OPS for name in node.input]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        node = producers.get(name)
        if node is not None:
            pending.extend(node.input)
    return found


def _rename(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def prune_dead_qdq(graph: Any) -> None:
    """Drop Q/DQ nodes whose outputs nothing reads (repeat: a dead DQ leaves its Q dead), then the
    scales and zero points only they read."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [
            node
            for node in graph.node
            if node.op_type in ("QuantizeLinear", "DequantizeLinear")
            and not any(out in used for out in node.output)
        ]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    for initializer in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(initializer)


class _Clips:
    """Clip nodes restoring folded activations, one per tensor, inserted after its producer."""

    def __init__(self, graph: Any, folded: dict[str, tuple[float, float]]) -> None:
        self._graph = graph
        self._folded = dict(folded)
        self._made: dict[str, str] = {}

    @property
    def folded(self) -> dict[str, tuple[float, float]]:
        return self._folded

    def restore_as(self, unclipped: str, output: str) -> None:
        """Clip `unclipped` (the input of the activation folded under the name `output`) back
        into `output`."""
        self._folded[unclipped] = self._folded[output]
        self.restore(unclipped, output)

    def restore(self, tensor: str, output: str | None = None) -> str:
        """`tensor` itself when no activation was folded into it, else the name of a Clip of it
        (called `output` when given)."""
        if tensor not in self._folded:
            return tensor
        if output is None and tensor in self._made:
            return self._made[tensor]
        name = output or f"{tensor}_float_activation"
        clip = clip_node(self._graph, tensor, name, self._folded[tensor])
        producers = [i for i, n in enumerate(self._graph.node) if tensor in n.output]
        self._graph.node.insert(producers[0] + 1 if producers else 0, clip)
        if output is None:
            self._made[tensor] = name
        return name


def float_tail(model: Any, folded: dict[str, tuple[float, float]] | None = None) -> list[str]:
    """Remove the Q/DQ pairs between each graph output and the last weighted op before it, in place.

    folded: folded_activations(float model, model), so a removed pair that also did a Relu/Clip's
    clipping is replaced by that Clip. Returns the names of the nodes now running in float (the
    tail), in the order met."""
    graph = model.graph
    clips = _Clips(graph, folded or {})
    float_nodes: list[str] = []
    inputs = {i.name for i in graph.input}
    # An output produced by DQ(Q(x)): x's producer (or the restored activation) writes it directly,
    # and the network's own readers of the output (a last Gemm reading the head's input) with it.
    # A folded activation's output is named either x (the producer writes the activation's output
    # name) or the output itself (the producer writes x = `<output>_QuantizeLinear_Input`): the
    # Clip goes back in either case, before any reader, or the network loses its ReLU (issue 22).
    for output in graph.output:
        producers = _producers(graph)
        source = _rounded_source(output.name, producers)
        if source is None or source in inputs:
            continue
        graph.node.remove(producers[output.name])
        if output.name in clips.folded:
            clips.restore_as(source, output.name)
        elif source in clips.folded:
            clips.restore(source, output.name)
        else:
            _rename(graph, source, output.name)
    # Walk back from every output; each visited non-weighted node reads float inputs, except where
    # its branch leaves the network's path (another reader of the tensor leads to a weighted op).
    producers = _producers(graph)
    feeds = _feeding_weighted_ops(graph, producers)
    readers: dict[str, list[Any]] = {}
    for reader in graph.node:
        for name in reader.input:
            readers.setdefault(name, []).append(reader)

    def branches_off(name: str, node: Any) -> bool:
        """Whether another reader of `name` leads to a weighted op: the walk has reached the
        point where its branch leaves the network's own path."""
        return any(
            other is not node
            and (other.op_type in WEIGHTED_OPS or any(out in feeds for out in other.output))
            for other in readers.get(name, ())
        )

    pending = [o.name for o in graph.output]
    seen: set[str] = set()
    while pending:
        node = producers.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        float_nodes.append(str(node.name))
        if node.op_type in WEIGHTED_OPS:
            continue  # its inputs (int8 weights and activations) stay as quantized
        for i, name in enumerate(node.input):
            source = _rounded_source(name, producers)
            if branches_off(name, node):
                # Read the tensor before its Q/DQ pair and stop: the pair stays the network's
                # alone (ONNX Runtime fuses DQ -> Conv -> Q into an int8 QLinearConv only when
                # nothing else reads them), and the layers before keep their int8 form. Where
                # the pair also did a folded ReLU's clipping, the branch gets it back.
                node.input[i] = name if source is None else clips.restore(source)
                continue
            if source is not None:
                node.input[i] = clips.restore(source)
                name = source
            pending.append(name)
    prune_dead_qdq(graph)
    return float_nodes
