"""The features a model check reads: by default the input of the classifier head, when it is rank
2; or, for `map_layer`, statistics of that layer's (N, H, W, C) feature map.

At export these features become a second output of every variant's graph (named FEATURES_OUTPUT,
next to the prediction named PREDICTION_OUTPUT), so the device gets them from the same call.

A head trained on one narrow task can carry little besides that task: the seed CNN's 64 head
inputs do not tell a knee from a chest film. An earlier feature map still describes texture and
structure, and pooling its top and bottom halves apart keeps which way up the image is
(benchmarks/feature_taps.py). The map is first averaged into CELLS x CELLS cells; the statistics
are then, per channel: the mean, the mean absolute deviation of the cells from it (a spread in the
same units, from ops that quantize to int8, unlike a square root), and the means of the top and
of the bottom half of the cells: 4 C values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from edgexray_export.errors import ExportError
from edgexray_export.keras_loading import _head_layer, in_batches

#: Cells per side the feature map is averaged into before its statistics.
CELLS = 8
#: What the map statistics are, in order, for the card.
MAP_STATISTICS = (
    f"mean over {CELLS}x{CELLS} cells",
    "mean absolute deviation of the cells",
    "top-half mean",
    "bottom-half mean",
)


def _tensor_of(model: Any, name: str) -> Any:
    """The output tensor of the layer called `name` in `model`'s own graph, found by walking back
    from the model's output (a layer's `.output` may belong to another graph it was called in)."""
    seen: set[int] = set()
    pending = list(model.outputs)
    while pending:
        tensor = pending.pop()
        history = getattr(tensor, "_keras_history", None)
        if history is None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        operation, node_index = history.operation, history.node_index
        if operation.name == name:
            return tensor
        pending.extend(operation._inbound_nodes[node_index].input_tensors)
    raise ExportError(f"the model has no layer {name!r} on the path to its output")


def map_statistics(feature_map: Any) -> Any:
    """(N, H, W, C) -> (N, 4 C): MAP_STATISTICS of each channel over a CELLS x CELLS grid of the
    map's averaged cells, as Keras ops (so they become ops of the exported graph). Averaging into
    cells first is one cheap pass; the statistics of the full map in int8 made the seed CNN's
    tflite-int8 37% and its onnx-int8 116% slower, and separated inputs no better
    (benchmarks/FEATURE_TAPS.md)."""
    import keras

    ops = keras.ops
    rows, columns = max(1, feature_map.shape[1] // CELLS), max(1, feature_map.shape[2] // CELLS)
    cells = ops.average_pool(feature_map, (rows, columns), (rows, columns), padding="valid")
    mean = ops.mean(cells, axis=(1, 2))
    spread = ops.mean(ops.abs(cells - ops.expand_dims(ops.expand_dims(mean, 1), 1)), (1, 2))
    half = cells.shape[1] // 2
    top = ops.mean(cells[:, :half], axis=(1, 2))
    bottom = ops.mean(cells[:, half:], axis=(1, 2))
    return ops.concatenate([mean, spread, top, bottom], axis=1)


def feature_model(model: Any, map_layer: str | None = None) -> Any | None:
    """A Keras model with two outputs, (prediction, features), sharing `model`'s layers.

    map_layer None: the features are the head's input; None is returned when the head is not a
    top-level layer whose input is (N, D), e.g. a nested last model or a head on a feature map:
    such a model is exported without features and without model check. map_layer NAME: the
    statistics of that layer's feature map (ExportError when it has none, or is not (N, H, W, C)
    with H of at least 2)."""
    import keras

    if map_layer is not None:
        feature_map = _tensor_of(model, map_layer)
        if len(feature_map.shape) != 4 or (feature_map.shape[1] or 0) < 2:
            raise ExportError(
                f"layer {map_layer!r} gives {tuple(feature_map.shape)}, not a feature map "
                "(N, H, W, C) with H >= 2: the model check needs one"
            )
        return keras.Model(model.inputs, [model.outputs[0], map_statistics(feature_map)])
    head = _head_layer(model)
    if head not in model.layers:
        return None
    try:
        tap = head.input
    except (AttributeError, ValueError):  # a layer called more than once has no single input
        return None
    if not isinstance(tap, keras.KerasTensor) or len(tap.shape) != 2 or tap.shape[-1] is None:
        return None
    return keras.Model(model.inputs, [model.outputs[0], tap])


def keras_features(two_outputs: Any, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """The features (N, D) of float32 NHWC images, in inference mode."""
    features = in_batches(lambda b: two_outputs(b, training=False)[1], x, batch_size)
    return features.reshape(len(x), -1)
