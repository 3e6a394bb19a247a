"""Peak memory while loading a real-size model: edgexray against the engine used by hand.

    python benchmarks/load_memory.py --build /tmp/loadmem     # once, needs TensorFlow: Xception
                                                              # backbone, random weights, ~83 MB
    python benchmarks/load_memory.py /tmp/loadmem/xception.tflite-fp32.tflite \\
        /tmp/loadmem/xception.onnx-fp32.onnx [--old-tree DIR]

Each figure is the VmHWM of a fresh process that did one thing: `baseline` imported edgexray and
the engine library; `by hand` loaded the file with the engine from its path; `edgexray` built a
Classifier (read, check, load from the checked bytes); `--old-tree DIR` adds the same Classifier
from another source tree (e.g. `git archive` of an older commit) for a before/after figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_PEAK = "from edgexray.bench.memory import peak_rss_mb; print(peak_rss_mb())"

_SNIPPETS = {
    ("litert", "baseline"): "import edgexray; from ai_edge_litert import interpreter",
    ("litert", "by hand"): (
        "import edgexray; from ai_edge_litert.interpreter import Interpreter\n"
        "i = Interpreter(model_path={path!r}, num_threads=1); i.allocate_tensors()"
    ),
    ("onnxruntime", "baseline"): "import edgexray, onnxruntime",
    ("onnxruntime", "by hand"): (
        "import edgexray, onnxruntime as ort\n"
        "s = ort.InferenceSession({path!r}, providers=['CPUExecutionProvider'])"
    ),
    ("any", "edgexray"): (
        "import edgexray\n"
        "c = edgexray.Classifier({path!r}, edgexray.ClassifierOptions(threads=1, decode_workers=0))"
    ),
}


def _peak_mb(code: str, source_tree: Path | None = None) -> float:
    env = dict(os.environ)
    if source_tree is not None:
        env["PYTHONPATH"] = str(source_tree)
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{_PEAK}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=source_tree or Path(__file__).resolve().parents[1],
    )
    return float(result.stdout.strip().splitlines()[-1])


def measure(path: Path, old_tree: Path | None) -> dict[str, float]:
    engine = "litert" if path.suffix == ".tflite" else "onnxruntime"
    figures = {
        "model_mb": path.stat().st_size / 2**20,
        "baseline": _peak_mb(_SNIPPETS[(engine, "baseline")]),
        "by hand": _peak_mb(_SNIPPETS[(engine, "by hand")].format(path=str(path))),
        "edgexray": _peak_mb(_SNIPPETS[("any", "edgexray")].format(path=str(path))),
    }
    if old_tree is not None:
        figures["edgexray before"] = _peak_mb(
            _SNIPPETS[("any", "edgexray")].format(path=str(path)), old_tree
        )
    engine_own = figures["by hand"] - figures["baseline"]
    figures["engine footprint"] = engine_own
    figures["edgexray over baseline"] = figures["edgexray"] - figures["baseline"]
    figures["bound: model + 1.3 x engine"] = figures["model_mb"] + 1.3 * engine_own
    return figures


def build(folder: Path) -> None:
    """An Xception backbone with a one-unit sigmoid head (random weights, 299x299x3), converted to
    tflite-fp32 and onnx-fp32 and carded; no parity gate (random weights, memory only)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    import tf2onnx

    from edgexray.card import ModelCard
    from edgexray.modelfile import write_card

    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    backbone = keras.applications.Xception(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    )
    model = keras.Model(
        backbone.input, keras.layers.Dense(1, activation="sigmoid")(backbone.output)
    )
    card = ModelCard(
        labels=("NORMAL", "PNEUMONIA"),
        task="binary",
        input_height=299,
        input_width=299,
        input_channels=3,
        normalize="symmetric",
        name="xception",
    )
    tflite = folder / "xception.tflite-fp32.tflite"
    tflite.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    write_card(tflite, card.replace(variant="tflite-fp32"))
    spec = (tf.TensorSpec((None, 299, 299, 3), tf.float32, name="input"),)
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=17)
    onnx_path = folder / "xception.onnx-fp32.onnx"
    onnx_path.write_bytes(proto.SerializeToString())
    write_card(onnx_path, card.replace(variant="onnx-fp32"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--build", type=Path)
    parser.add_argument("--old-tree", type=Path)
    args = parser.parse_args()
    if args.build:
        build(args.build)
    for path in args.models:
        print(json.dumps({"model": str(path), **measure(path, args.old_tree)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
