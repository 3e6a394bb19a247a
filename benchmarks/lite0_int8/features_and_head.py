"""Diagnose why the Lite0 fine-tuned model's int8 TFLite is far from Keras (issue 26).

python diag.py MODEL.keras INT8.tflite HELD_OUT_DIR [FP16.tflite]
Prints: logit magnitudes and margins, the head's weight norms, int8 pooled-feature error, how
the probability error splits into feature error x head gain, and p-error if only the head's
logits were scaled down (temperature) -- a sensitivity check, not a fix.
"""

import sys

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from edgexray_export.calibration import load_tensors, split_images

from edgexray.preprocessing import Preprocessor

model_path, int8_path, held = sys.argv[1:4]
model = keras.saving.load_model(model_path, compile=False)
split = split_images(held, 720, seed=2026)
pre = Preprocessor(224, 224, color_mode="rgb", normalize="symmetric")
x = load_tensors(split.parity, pre)
labels = np.array([["COVID", "NORMAL", "PNEUMONIA"].index(str(i.class_name)) for i in split.parity])
pooled_model = keras.Model(model.input, model.get_layer("pool").output)
f = np.asarray(pooled_model.predict(x, batch_size=32, verbose=0))
W, b = model.get_layer("Output").get_weights()
z = f @ W + b
p = np.asarray(model.predict(x, batch_size=32, verbose=0))
zs = np.sort(z, axis=1)
print("parity images", len(x), "keras acc", (p.argmax(1) == labels).mean())
print(
    f"logits: |z| mean {np.abs(z).mean():.2f} max {np.abs(z).max():.2f}; top1-top2 margin median {np.median(zs[:, -1] - zs[:, -2]):.2f} min {(zs[:, -1] - zs[:, -2]).min():.2f}"
)
print(f"p_max: median {np.median(p.max(1)):.5f}, share > 0.999: {(p.max(1) > 0.999).mean():.3f}")
print(
    "head W: shape", W.shape, "col L2 norms", np.linalg.norm(W, axis=0).round(2), "bias", b.round(2)
)
print(
    f"pooled features: mean {f.mean():.3f}, max {f.max():.3f}, L2 norm median {np.median(np.linalg.norm(f, axis=1)):.2f}"
)


def run_tflite(path: str) -> tuple[np.ndarray, np.ndarray]:
    it = Interpreter(model_path=path)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = it.get_output_details()
    res_p, res_f = [], []
    for i in range(len(x)):
        it.set_tensor(inp["index"], x[i : i + 1])
        it.invoke()
        vals = [it.get_tensor(o["index"]) for o in outs]
        for v in vals:
            if v.shape[-1] == 3:
                res_p.append(v[0])
            else:
                res_f.append(v[0])
    return np.array(res_p), np.array(res_f)


for path in [*sys.argv[4:], int8_path]:
    q, fq = run_tflite(path)
    dp = np.abs(q - p).max(1)
    print("==", path.rsplit("/", 1)[-1])
    print(
        f"  agreement {(q.argmax(1) == p.argmax(1)).mean():.4f} max|dp| {dp.max():.4f} mean|dp| {dp.mean():.5f}"
    )
    if fq.shape == f.shape:
        rel = np.linalg.norm(fq - f, axis=1) / np.linalg.norm(f, axis=1)
        print(f"  pooled feature rel. error median {np.median(rel):.4f} max {rel.max():.4f}")
        zq = fq @ W + b
        dz = np.abs(zq - z).max(1)
        print(f"  logit error from features: median {np.median(dz):.3f} max {dz.max():.3f}")
        for t in (1, 2, 4, 8):

            def sm(a: np.ndarray) -> np.ndarray:
                e = np.exp(a - a.max(1, keepdims=True))
                return e / e.sum(1, keepdims=True)

            print(f"   logits / {t}: max|dp| {np.abs(sm(zq / t) - sm(z / t)).max():.4f}")
        worst = np.argsort(-dp)[:5]
        for i in worst:
            print(
                "  worst",
                split.parity[i].relative,
                "keras",
                p[i].round(3),
                "int8",
                q[i].round(3),
                "z",
                z[i].round(2),
                f"feat rel err {rel[i]:.3f}",
            )
    np.savez(
        "build/lite0_int8/parity_" + path.rsplit(".", 2)[-2] + ".npz",
        f=f,
        fq=fq,
        p=p,
        q=q,
        labels=labels,
    )
