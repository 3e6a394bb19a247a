"""Retrain only the 3-way head on the fine-tuned backbone's pooled features; measure int8 |dp|.

The tflite-int8 keeps the FC and softmax float, so a new head's int8 probabilities are
softmax(fq @ W + b) with fq the int8 model's pooled features on the parity images (diag.py).
"""

import os
import sys
from typing import Any

import keras
import numpy as np
from edgexray_export.data.folders import SplitConfig, scan_folder

from edgexray.preprocessing import Preprocessor

cache = "build/lite0_int8/trainfeat.npz"
model = keras.saving.load_model(sys.argv[1], compile=False)
if not os.path.exists(cache):
    data = scan_folder("build/synthetic/three", SplitConfig(0.15, 0.15, 2026))
    pre = Preprocessor(224, 224, color_mode="rgb", normalize="symmetric")
    pooled = keras.Model(model.input, model.get_layer("pool").output)
    out: dict[str, Any] = {}
    for name in ("train", "val", "test"):
        s = data.splits[name]
        feats = []
        for i in range(0, len(s.files), 32):
            x = np.stack([pre(f) for f in s.files[i : i + 32]])
            feats.append(np.asarray(pooled(x, training=False)))
        out[name + "_f"] = np.concatenate(feats)
        out[name + "_y"] = np.asarray(s.labels)
    np.savez(cache, **out)
d = np.load(cache)
par = np.load("build/lite0_int8/parity_tflite-int8.npz")
W0, b0 = model.get_layer("Output").get_weights()


def sm(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def report(name: str, W: np.ndarray, b: np.ndarray) -> None:
    acc = {k: (np.argmax(d[k + "_f"] @ W + b, 1) == d[k + "_y"]).mean() for k in ("val", "test")}
    p, q = sm(par["f"] @ W + b), sm(par["fq"] @ W + b)
    dp = np.abs(p - q).max(1)
    z = par["f"] @ W + b
    zs = np.sort(z, 1)
    print(
        f"{name:28s} val {acc['val']:.3f} test {acc['test']:.3f} int8 agree {(p.argmax(1) == q.argmax(1)).mean():.4f} "
        f"max|dp| {dp.max():.4f} mean {dp.mean():.5f} margin med {np.median(zs[:, -1] - zs[:, -2]):.2f} |W| {np.linalg.norm(W):.2f}"
    )


report("shipped head", W0, b0)
for ls in (0.0, 0.1, 0.2):
    for l2 in (0.0, 1e-3, 1e-2):
        keras.utils.set_random_seed(2026)
        inp = keras.Input((d["train_f"].shape[1],))
        h = keras.layers.Dropout(0.2)(inp)
        out = keras.layers.Dense(
            3, activation="softmax", kernel_regularizer=keras.regularizers.L2(l2) if l2 else None
        )(h)
        m = keras.Model(inp, out)
        m.compile(
            keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(label_smoothing=ls)
        )
        yt = keras.utils.to_categorical(d["train_y"], 3)
        yv = keras.utils.to_categorical(d["val_y"], 3)
        m.fit(
            d["train_f"],
            yt,
            validation_data=(d["val_f"], yv),
            epochs=40,
            batch_size=32,
            verbose=0,
            callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
        )
        W, b = m.layers[-1].get_weights()
        report(f"ls {ls} l2 {l2}", W, b)
