"""Grad-CAM and Grad-CAM++ on a Keras model, at its last convolutional block.

The layer is found automatically: the last layer with a spatial (4-D) output, looking inside a
nested backbone (a keras.applications model used as one layer) when that is where the last
feature map is made. For MobileNetV2 that is `out_relu`, the activation after its last
convolution, and for the seed CNN `conv_3`.

The score differentiated is the class's log-odds, log p - log(1 - p): for a sigmoid head it is the
logit itself, and unlike the probability its gradient does not vanish when the model is sure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from edgexray_export.errors import ExportError

METHODS = ("gradcam", "gradcam++")
_EPS = 1e-7


@dataclass(frozen=True)
class TargetLayer:
    """The feature-map layer, as a path of names from the outer model (nested models first)."""

    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return "/".join(self.path)


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "inputs")


def _spatial(layer: Any) -> bool:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return False
    return len(shape) == 4 and shape[1] not in (None, 1) and shape[2] not in (None, 1)


def find_target_layer(model: Any) -> TargetLayer:
    """The last layer with a spatial output, inside nested models too. ExportError if none."""
    for layer in reversed(model.layers):
        if _is_model(layer):
            try:
                return TargetLayer((layer.name, *find_target_layer(layer).path))
            except ExportError:
                continue
        if _spatial(layer) and type(layer).__name__ != "InputLayer":
            return TargetLayer((layer.name,))
    raise ExportError(f"{model.name}: no layer with a spatial (4-D) output to explain")


Step = Callable[[Any], Any]


def _chain(first: Step | None, second: Step) -> Step:
    if first is None:
        return second
    return lambda x: second(first(x))


def _run_layers(layers: list[Any]) -> Step:
    def run(x: Any) -> Any:
        for layer in layers:
            x = layer(x, training=False) if _is_model(layer) else layer(x)
        return x

    return run


def _inference(model: Any) -> Step:
    """`model` called in inference mode, as a step."""

    def run(x: Any) -> Any:
        return model(x, training=False)

    return run


def _split_sequential(model: Any, path: tuple[str, ...]) -> tuple[Step, Step]:
    """A Sequential model is a plain chain: run its layers before and after the target."""
    names = [layer.name for layer in model.layers]
    i = names.index(path[0])
    before, layer, after = model.layers[:i], model.layers[i], model.layers[i + 1 :]
    if len(path) == 1:
        return _run_layers([*before, layer]), _run_layers(after)
    inner_to, inner_from = _split(layer, path[1:])
    return _chain(_run_layers(before), inner_to), _chain(inner_from, _run_layers(after))


def _split(model: Any, path: tuple[str, ...]) -> tuple[Step, Step]:
    """(input -> feature map of the layer at `path`, feature map -> model output).

    A nested model is called in the outer graph through one of its nodes; Keras keeps the node of
    the outer call next to the nested model's own, so the one that connects is used."""
    import keras

    layer = model.get_layer(path[0])
    if isinstance(model, keras.Sequential):
        return _split_sequential(model, path)
    if len(path) == 1:
        to_features = keras.Model(model.inputs, layer.output)
        if layer.output is model.outputs[0]:  # the feature map is this model's output
            return (lambda x: to_features(x, training=False)), (lambda f: f)
        head = keras.Model(layer.output, model.outputs[0])
        return (lambda x: to_features(x, training=False)), (lambda f: head(f, training=False))
    inner_to, inner_from = _split(layer, path[1:])
    for node in layer._inbound_nodes:
        try:
            entry = node.input_tensors[0]
            pre = None if entry is model.inputs[0] else keras.Model(model.inputs, entry)
            post = keras.Model(node.output_tensors[0], model.outputs[0])
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        before = None if pre is None else _inference(pre)
        return _chain(before, inner_to), _chain(inner_from, _inference(post))
    raise ExportError(f"{model.name}: cannot connect the nested model {layer.name!r}")


class GradCam:
    """Grad-CAM (or Grad-CAM++) maps of one Keras model.

    model: a loaded keras.Model with a probability head (sigmoid: one unit, P(labels[1]);
    softmax: one per label). layer: a TargetLayer, default the last spatial layer.
    """

    def __init__(
        self,
        model: Any,
        layer: TargetLayer | None = None,
        method: str = "gradcam",
        logits: bool = False,
    ) -> None:
        if method not in METHODS:
            raise ExportError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        self.model = model
        self.layer = layer or find_target_layer(model)
        self.method = method
        self.logits = logits
        self._to_features, self._from_features = _split(model, self.layer.path)

    def _probabilities(self, out: Any) -> Any:
        """The model's output as (N, labels) probabilities, differentiably (see postprocess)."""
        import tensorflow as tf

        if out.shape[-1] == 1:
            p1 = tf.sigmoid(out[:, 0]) if self.logits else out[:, 0]
            return tf.stack([1.0 - p1, p1], axis=1)
        return tf.nn.softmax(out, axis=-1) if self.logits else out

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Inputs float32 (N, H, W, C) -> probabilities (N, labels), forward only."""
        import tensorflow as tf

        x_t = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        return np.asarray(self._probabilities(self._from_features(self._to_features(x_t))))

    def maps(self, x: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs float32 (N, H, W, C) -> (probabilities (N, labels), maps float32 (N, H, W) in
        0..1 at the input size, each scaled by its own peak). class_index indexes the labels
        (for a sigmoid head, 1 is the positive class and 0 the other)."""
        import tensorflow as tf

        x_t = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        features = tf.convert_to_tensor(self._to_features(x_t))
        with tf.GradientTape() as tape:
            tape.watch(features)
            probabilities = self._probabilities(self._from_features(features))
            p = probabilities[:, class_index]
            score = tf.math.log(p + _EPS) - tf.math.log(1.0 - p + _EPS)
        grads = tape.gradient(score, features).numpy().astype(np.float64)
        a = features.numpy().astype(np.float64)
        if self.method == "gradcam":
            weights = grads.mean(axis=(1, 2))
        else:
            # Grad-CAM++ (Chattopadhyay et al. 2018) with the exponential-score closed form.
            g2, g3 = grads**2, grads**3
            denominator = 2 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
            alpha = g2 / np.where(np.abs(denominator) > 1e-12, denominator, 1.0)
            weights = (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))
        cam = np.maximum(np.einsum("nhwk,nk->nhw", a, weights), 0)
        return probabilities.numpy(), _upsample(cam, x.shape[1], x.shape[2])


def _upsample(cams: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, h, w) feature-map cams -> (N, height, width) float32, bilinear, each scaled to 0..1."""
    from PIL import Image

    out = np.empty((len(cams), height, width), dtype=np.float32)
    for i, cam in enumerate(cams):
        image = Image.fromarray(cam.astype(np.float32), "F")
        big = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), np.float32)
        top = float(big.max())
        out[i] = big / top if top > 0 else big
    return out
