"""Which heads export gives class evidence, and that the map is exactly each cell's share of the
logits (export/class_evidence.py), on small Keras models (no conversion)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras
from edgexray_export.class_evidence import class_evidence

pytestmark = pytest.mark.tensorflow


def _model(*head: keras.layers.Layer, pool: bool = True) -> keras.Model:
    inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x) if pool else keras.layers.Flatten()(x)
    for layer in head:
        x = layer(x)
    return keras.Model(inputs, x)


def _nested_pooling() -> keras.Model:
    inner_in = keras.Input((12, 12, 2))
    inner = keras.layers.Conv2D(5, 3, padding="same", activation="relu")(inner_in)
    backbone = keras.Model(inner_in, keras.layers.GlobalAveragePooling2D()(inner))
    inputs = keras.Input((12, 12, 2))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(backbone(inputs)))


Dense = keras.layers.Dense
WITH = {
    "softmax": lambda: _model(Dense(3, activation="softmax")),
    "dropout_sigmoid": lambda: _model(keras.layers.Dropout(0.5), Dense(1, activation="sigmoid")),
    "logits": lambda: _model(Dense(4)),
    "softmax_layer": lambda: _model(Dense(3), keras.layers.Softmax()),
    "activation_layer": lambda: _model(Dense(1), keras.layers.Activation("sigmoid")),
}
WITHOUT = {
    "two_dense": lambda: _model(Dense(8, activation="relu"), Dense(2)),
    "flatten": lambda: _model(Dense(2), pool=False),
    "multi_label_sigmoid": lambda: _model(Dense(3, activation="sigmoid")),
    "relu_after_dense": lambda: _model(Dense(3), keras.layers.Activation("relu")),
    "pooling_inside_the_backbone": _nested_pooling,
}


@pytest.mark.parametrize("build", list(WITH.values()), ids=list(WITH))
def test_the_map_is_each_cells_share_of_the_logits(build: Callable[[], keras.Model]) -> None:
    keras.utils.set_random_seed(0)
    model = build()
    evidence = class_evidence(model)
    assert evidence is not None
    x = np.random.default_rng(1).random((3, 12, 12, 2), dtype=np.float32)
    shares = np.asarray(keras.Model(model.inputs, evidence)(x))
    assert shares.shape == (3, 12, 12, model.output_shape[-1])
    dense = next(layer for layer in reversed(model.layers) if isinstance(layer, Dense))
    kernel, bias = dense.kernel.numpy(), dense.bias.numpy()
    logits = np.asarray(keras.Model(model.inputs, dense.input)(x)) @ kernel + bias
    np.testing.assert_allclose(shares.sum(axis=(1, 2)) + bias, logits, atol=1e-5)


@pytest.mark.parametrize("build", list(WITHOUT.values()), ids=list(WITHOUT))
def test_other_heads_get_no_map(build: Callable[[], keras.Model]) -> None:
    assert class_evidence(build()) is None


def test_the_map_can_be_built_twice_from_one_model() -> None:
    """Every variant's graph is built from the same Keras model: a second map must not clash."""
    model = WITH["softmax"]()
    first, second = class_evidence(model), class_evidence(model)
    assert first is not None and second is not None
    x = np.zeros((1, 12, 12, 2), np.float32)
    keras.Model(model.inputs, [model.outputs[0], second])(x)
