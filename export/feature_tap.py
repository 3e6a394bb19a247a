"""The pooled features a model check reads: the input of the classifier head, when it is rank 2.

At export these features become a second output of every variant's graph (named FEATURES_OUTPUT,
next to the prediction named PREDICTION_OUTPUT), so the device gets them from the same call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from edgexray_export.keras_loading import _head_layer


def feature_model(model: Any) -> Any | None:
    """A Keras model with two outputs, (prediction, pooled features), sharing `model`'s layers; or
    None when the head is not a top-level layer whose input is (N, D), e.g. a nested last model or
    a head on a feature map: such a model is exported without features and without model check."""
    import keras

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
    """The pooled features (N, D) of float32 NHWC images, in inference mode."""
    chunks = [
        np.asarray(two_outputs(x[i : i + batch_size], training=False)[1], dtype=np.float32)
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(chunks).reshape(len(x), -1)
