"""Stem and block 0 of the fine-tuned Lite0: weight cancellation across RGB and pre-activation ranges."""

import sys

import keras
import numpy as np
from edgexray_export.calibration import load_tensors, split_images

from edgexray.preprocessing import Preprocessor

model = keras.saving.load_model(sys.argv[1], compile=False)
bb = model.get_layer("backbone")
W = bb.get_layer("stem_conv").get_weights()[0]  # (3,3,3,32)
g, beta, mu, var = bb.get_layer("stem_bn").get_weights()
fold = W * (g / np.sqrt(var + 1e-3))
per_ch = np.abs(fold).sum(axis=(0, 1, 2))
summed = np.abs(fold.sum(axis=2)).sum(axis=(0, 1))
print(
    f"stem folded weights: sum|w| over taps and RGB / sum|w summed over RGB|: median {np.median(per_ch / summed):.1f} max {(per_ch / summed).max():.1f}"
)
print(
    f"stem folded max|w| per out channel median {np.median(np.abs(fold).max(axis=(0, 1, 2))):.2f} max {np.abs(fold).max():.2f}; summed-over-RGB max|w| median {np.median(np.abs(fold.sum(2)).max(axis=(0, 1))):.2f}"
)
split = split_images(sys.argv[2], 720, seed=2026)
pre = Preprocessor(224, 224, color_mode="rgb", normalize="symmetric")
x = load_tensors(split.parity[:48], pre)
names = ["stem_bn", "block0_dw_bn", "block0_project_bn", "block1_expand_bn", "head_bn"]
sub = keras.Model(bb.input, [bb.get_layer(n).output for n in names])
for n, a in zip(names, sub(x, training=False), strict=False):
    a = np.asarray(a)
    print(
        f"{n:20s} pre-activation min {a.min():8.2f} max {a.max():8.2f} |a| p99.9 {np.percentile(np.abs(a), 99.9):7.2f} share > 6: {(a > 6).mean():.3f} share < 0: {(a < 0).mean():.3f}"
    )
