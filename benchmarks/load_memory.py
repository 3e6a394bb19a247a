"""Peak memory while loading a real-size model: edgexray against the engine used by hand.

    python benchmarks/load_memory.py --build /tmp/loadmem     # once, needs TensorFlow: Xception
                                                              # backbone, random weights, ~83 MB
    python benchmarks/load_memory.py /tmp/loadmem/xception.tflite-fp32.tflite \\
        /tmp/loadmem/xception.onnx-fp32.onnx [--old-tree DIR] [--openvino]

Each figure is the VmHWM (MiB) of a fresh process that did one thing: `baseline` imported edgexray
and the engine library; `by hand` loaded the file with the engine from its path; `edgexray` built a
Classifier (read, check, load from the checked bytes); `card check` only read and checked the card.
`--old-tree DIR` adds the last two from another source tree (e.g. `git archive` of an older commit)
for a before/after figure, on a copy of the model whose card has no digest. `engine footprint` is
what the engine adds beyond the model's bytes: by hand - baseline - model size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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
    ("openvino", "baseline"): "import edgexray, openvino",
    ("openvino", "by hand"): (
        "import edgexray, openvino as ov\n"
        "core = ov.Core()\n"
        "c = core.compile_model(core.read_model({path!r}), 'CPU', {{'INFERENCE_NUM_THREADS': 1}})"
    ),
    ("any", "card check"): (
        "import edgexray, pathlib; from edgexray.modelfile import read_card\n"
        "read_card(pathlib.Path({path!r}))"
    ),
    ("any", "edgexray"): (
        "import edgexray\n"
        "options = edgexray.ClassifierOptions(threads=1, decode_workers=0, engine={engine!r})\n"
        "c = edgexray.Classifier({path!r}, options)"
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
        check=False,
        cwd=source_tree or Path(__file__).resolve().parents[1],
    )
    if result.returncode != 0:
        raise SystemExit(f"measuring failed:\n{code}\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def _legacy_copy(path: Path, folder: Path) -> Path:
    """A copy of `path` whose card has no digest, as edgexray 0.1 wrote it (which older trees read)."""
    from edgexray.modelfile import CARD_ENTRY, read_model_file, write_entries

    card = read_model_file(path).card
    if card is None:
        raise SystemExit(f"{path}: no card")
    data = card.to_dict()
    data.pop("card_sha256")
    copy = folder / path.name
    copy.write_bytes(path.read_bytes())
    write_entries(copy, {CARD_ENTRY: json.dumps(data)})
    return copy


def measure(path: Path, old_tree: Path | None, engine: str) -> dict[str, float]:
    figures = {
        "model_mb": path.stat().st_size / 2**20,
        "baseline": _peak_mb(_SNIPPETS[(engine, "baseline")]),
        "by hand": _peak_mb(_SNIPPETS[(engine, "by hand")].format(path=str(path))),
        "edgexray": _peak_mb(_SNIPPETS[("any", "edgexray")].format(path=str(path), engine=engine)),
        "card check": _peak_mb(_SNIPPETS[("any", "card check")].format(path=str(path))),
    }
    if old_tree is not None:
        with tempfile.TemporaryDirectory() as folder:
            legacy = _legacy_copy(path, Path(folder))
            for what in ("edgexray", "card check"):
                code = _SNIPPETS[("any", what)].format(path=str(legacy), engine=engine)
                figures[f"{what} before"] = _peak_mb(code, old_tree)
    # What the engine adds beyond the model's own bytes (which it maps from the file by hand).
    engine_own = figures["by hand"] - figures["baseline"] - figures["model_mb"]
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
    parser.add_argument("--openvino", action="store_true", help="Also OpenVINO on .onnx files.")
    args = parser.parse_args()
    if args.build:
        build(args.build)
    for path in args.models:
        engines = ["litert"] if path.suffix == ".tflite" else ["onnxruntime"]
        if args.openvino and path.suffix == ".onnx":
            engines.append("openvino")
        for engine in engines:
            figures = measure(path, args.old_tree, engine)
            print(json.dumps({"model": str(path), "engine": engine, **figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
