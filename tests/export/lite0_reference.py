"""An independent forward pass of EfficientNet-Lite0 in numpy (float64), for the converter's tests.

It reads the state dict in PyTorch's own layout (channels first, kernels (out, in, kh, kw)) and
follows the PyTorch code the checkpoint was made for (efficientnet_lite_pytorch): TensorFlow-style
"same" padding computed per convolution (extra row and column at the bottom and right), batch norm
with epsilon 1e-3, ReLU6, a residual add where stride is 1 and widths match, global average pooling,
the linear layer. Nothing here comes from Keras or from the converter's tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# The block strings of the TensorFlow EfficientNet-B0/Lite0 definition (r repeats, k kernel,
# s stride, e expansion, i input filters, o output filters).
BLOCK_STRINGS = (
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r2_k5_s22_e6_i24_o40",
    "r3_k3_s22_e6_i40_o80",
    "r3_k5_s11_e6_i80_o112",
    "r4_k5_s22_e6_i112_o192",
    "r1_k3_s11_e6_i192_o320",
)
EPSILON = 1e-3


def _decode(block: str) -> dict[str, int]:
    fields = {part[0]: part[1:] for part in block.split("_")}
    return {
        "r": int(fields["r"]),
        "k": int(fields["k"]),
        "s": int(fields["s"][0]),
        "e": int(fields["e"]),
        "i": int(fields["i"]),
        "o": int(fields["o"]),
    }


def _pad_same(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    _, height, width = x.shape
    pads = []
    for size in (height, width):
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1]))


def _shifted_sum(
    x: np.ndarray, kernel: int, stride: int, term: Callable[[int, int, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Sum over the kernel's offsets (i, j) of term(i, j, the strided window at that offset)."""
    padded = _pad_same(x, kernel, stride)
    out_h, out_w = math.ceil(x.shape[1] / stride), math.ceil(x.shape[2] / stride)
    total: np.ndarray | float = 0.0
    for i in range(kernel):
        for j in range(kernel):
            patch = padded[:, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
            total = total + term(i, j, patch)
    return np.asarray(total)


def conv(x: np.ndarray, weight: np.ndarray, stride: int = 1) -> np.ndarray:
    """x (C, H, W), weight (O, C, k, k) -> (O, H', W')."""
    return _shifted_sum(
        x, weight.shape[-1], stride, lambda i, j, p: np.einsum("oc,chw->ohw", weight[:, :, i, j], p)
    )


def depthwise(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """x (C, H, W), weight (C, 1, k, k) -> (C, H', W')."""
    return _shifted_sum(
        x, weight.shape[-1], stride, lambda i, j, p: weight[:, 0, i, j][:, None, None] * p
    )


def batch_norm(x: np.ndarray, state: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    def p(name: str) -> np.ndarray:
        return state[f"{prefix}.{name}"].astype(np.float64)[:, None, None]

    return (x - p("running_mean")) / np.sqrt(p("running_var") + EPSILON) * p("weight") + p("bias")


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def forward(state: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    """The 1000 logits of one normalized image (H, W, 3), channels last as Keras takes it."""
    w = {k: v.astype(np.float64) for k, v in state.items()}
    x = np.asarray(image, np.float64).transpose(2, 0, 1)
    x = relu6(batch_norm(conv(x, w["_conv_stem.weight"], 2), w, "_bn0"))
    index = 0
    for block in map(_decode, BLOCK_STRINGS):
        for repeat in range(block["r"]):
            stride = block["s"] if repeat == 0 else 1
            width_in = block["i"] if repeat == 0 else block["o"]
            prefix = f"_blocks.{index}"
            y = x
            if block["e"] != 1:
                y = relu6(
                    batch_norm(conv(y, w[f"{prefix}._expand_conv.weight"]), w, f"{prefix}._bn0")
                )
            y = depthwise(y, w[f"{prefix}._depthwise_conv.weight"], stride)
            y = relu6(batch_norm(y, w, f"{prefix}._bn1"))
            y = batch_norm(conv(y, w[f"{prefix}._project_conv.weight"]), w, f"{prefix}._bn2")
            x = y + x if stride == 1 and width_in == block["o"] else y
            index += 1
    x = relu6(batch_norm(conv(x, w["_conv_head.weight"]), w, "_bn1"))
    pooled = x.mean(axis=(1, 2))
    return w["_fc.weight"] @ pooled + w["_fc.bias"]
