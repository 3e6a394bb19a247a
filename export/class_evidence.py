"""Class evidence: where in the last feature map each class's logit comes from, as one more output of
the exported graph, so that a device explains a decision in one inference instead of dozens of
occluded copies (edgexray.explain.class_evidence).

It exists for the head most transfer models have: the last feature map A (N, h, w, C), global average
pooling, optional dropout, and one Dense layer (linear, sigmoid with one unit, or softmax). There the
logits are exactly

    z = b + sum over cells (i, j) of  A[i, j] . W / (h w)

so the (N, h, w, units) map of the cells' terms, A[i, j] . W / (h w), sums to z - b: each cell's
share of the logit, with nothing approximated (class activation mapping, Zhou et al. 2016, in the
units of the logit). The map costs h w C units multiply-adds, nothing beside the backbone's.

Any other head (several Dense layers, a Flatten, max pooling, a nested head) mixes the cells
non-linearly: no map is exported and the device explains by occlusion, as before. So is a backbone
that pools inside itself (keras.applications with pooling="avg"): its feature map is not a tensor
of the outer graph, which is where the map must be built.
"""

from __future__ import annotations

from typing import Any

from edgexray_export.keras_loading import _head_layer

#: Layers that are the identity at inference, stepped over between the pooling and the head.
_INFERENCE_IDENTITY = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
}
#: The name of the layer that makes the map (unique in any model edgexray exports).
LAYER_NAME = "edgexray_class_evidence"
#: Head activations the map explains: the logit is the Dense layer's output before them.
_ACTIVATIONS = {"linear", "sigmoid", "softmax"}


def _producer(tensor: Any) -> Any | None:
    """(the operation that made `tensor` in its graph, that call's input tensors), or None for a
    tensor no operation made (an input)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    return history.operation, history.operation._inbound_nodes[history.node_index].input_tensors


def _activation(layer: Any) -> str:
    activation = getattr(layer, "activation", None)
    return "linear" if activation is None else getattr(activation, "__name__", "").lower()


def _dense_head(model: Any) -> Any | None:
    """The Dense layer whose output, before its activation, is the logits: the head itself, or the
    linear Dense under a final Softmax/Activation layer. None for any other head."""
    head = _head_layer(model)
    if head not in model.layers:
        return None
    name = type(head).__name__
    dense, activation = head, _activation(head)
    if name in ("Softmax", "Activation"):
        activation = "softmax" if name == "Softmax" else activation
        produced = _producer(model.outputs[0])
        if produced is None or len(produced[1]) != 1:
            return None
        below = _producer(produced[1][0])
        if below is None or _activation(below[0]) != "linear":
            return None
        dense = below[0]
    if type(dense).__name__ != "Dense" or activation not in _ACTIVATIONS:
        return None
    if activation == "sigmoid" and int(dense.units) != 1:
        return None  # independent sigmoids (multi-label): not a model edgexray decides
    return dense


def _pooled_map(dense: Any) -> Any | None:
    """The (N, h, w, C) feature map that global average pooling turns into `dense`'s input, through
    inference-identity layers only; None when the head reads anything else."""
    try:
        tensor = dense.input
    except (AttributeError, ValueError):  # called more than once: no single input
        return None
    while True:
        produced = _producer(tensor)
        if produced is None or len(produced[1]) != 1:
            return None
        operation, (below,) = produced
        kind = type(operation).__name__
        if kind in _INFERENCE_IDENTITY:
            tensor = below
            continue
        if kind != "GlobalAveragePooling2D":
            return None
        if getattr(operation, "data_format", "channels_last") != "channels_last":
            return None
        if getattr(operation, "keepdims", False) or len(below.shape) != 4:
            return None
        if None in tuple(below.shape[1:]):
            return None
        return below


def class_evidence(model: Any) -> Any | None:
    """The symbolic (N, h, w, units) map of each cell's share of each logit, in `model`'s own graph
    (so it becomes an output of the exported graph next to the prediction), or None when the head is
    not global average pooling into one Dense layer."""
    dense = _dense_head(model)
    if dense is None:
        return None
    feature_map = _pooled_map(dense)
    if feature_map is None:
        return None
    import keras

    # A 1x1 convolution with the head's kernel: the op every converter and int8 scheme handles.
    # A named layer, not keras.ops.conv: an op's automatic name ("conv_2") can be a layer's.
    cells = int(feature_map.shape[1]) * int(feature_map.shape[2])
    kernel = keras.ops.convert_to_numpy(dense.kernel) / float(cells)
    layer = keras.layers.Conv2D(
        kernel.shape[1], 1, use_bias=False, dtype=dense.dtype_policy, name=LAYER_NAME
    )
    layer.build(tuple(feature_map.shape))
    layer.set_weights([kernel[None, None]])
    return layer(feature_map)
