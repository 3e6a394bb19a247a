"""Fine-tuning on cached features: the frozen part of a pretrained backbone runs once per image.

The fine-tuned model is image -> backbone (inference mode) -> pooling -> dropout -> dense. While
the backbone is frozen, and below the first unfrozen layer once the top is trained, its output for
an image never changes, and nothing here augments images. So the frozen part's output is computed
once per image (`FrozenCut.features`), and each phase trains a model built from the same layer
objects that starts there: the head phase from the pooled features, the fine-tune phase from the
cut. The weights learnt are the model's own; only the work is saved.

A cut needs the frozen part to end in one tensor that nothing above it reads past (true at
EfficientNet-Lite0's and MobileNetV2's block outputs); `cut_at` returns None elsewhere and training
runs on images as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgexray.preprocessing import Preprocessor


@dataclass(frozen=True)
class FrozenCut:
    """lower: image -> the cut tensor (frozen); upper: cut tensor -> probabilities (trainable
    layers shared with the model); head: pooled features -> probabilities."""

    lower: Any
    upper: Any
    head: Any
    pooled: Any

    def features(self, x: np.ndarray, pre: Preprocessor, batch: int = 32) -> np.ndarray:
        """The cut tensor of uint8 images `x`, computed in batches (float32)."""
        parts = [
            np.asarray(self.lower(pre.normalize_pixels(x[i : i + batch]), training=False))
            for i in range(0, len(x), batch)
        ]
        return np.concatenate(parts).astype(np.float32)

    def pool(self, cut: np.ndarray, batch: int = 64) -> np.ndarray:
        """The pooled backbone features (the head's input) of cut tensors."""
        parts = [
            np.asarray(self.pooled(cut[i : i + batch], training=False))
            for i in range(0, len(cut), batch)
        ]
        return np.concatenate(parts).astype(np.float32)


def _head_layers(model: Any) -> list[Any]:
    """The layers after the nested backbone, in order (pooling, dropout, dense)."""
    names = [layer.name for layer in model.layers]
    return model.layers[names.index("backbone") + 1 :]


def cut_at(model: Any, first_trainable: str) -> FrozenCut | None:
    """Split `model` at the input of backbone layer `first_trainable`, or None if no clean cut."""
    import keras

    backbone = model.get_layer("backbone")
    try:
        cut_tensor = backbone.get_layer(first_trainable).input
        lower = keras.Model(backbone.input, cut_tensor, name="frozen_lower")
        top = keras.Model(cut_tensor, backbone.output, name="backbone_top")
    except (ValueError, AttributeError):
        return None
    if isinstance(cut_tensor, list | tuple):
        return None
    cut_in = keras.Input(shape=tuple(cut_tensor.shape[1:]), name="cut")
    x = top(cut_in, training=False)
    head = _head_layers(model)
    pooled = head[0](x)
    y = pooled
    for layer in head[1:]:
        y = layer(y)
    upper = keras.Model(cut_in, y, name="upper")
    pooled_model = keras.Model(cut_in, pooled, name="pooled")
    features_in = keras.Input(shape=(int(pooled.shape[-1]),), name="pooled_features")
    z = features_in
    for layer in head[1:]:
        z = layer(z)
    return FrozenCut(lower, upper, keras.Model(features_in, z, name="head"), pooled_model)
