"""The measurements behind `--target` (export/targets.py) on this CPU: ONNX Runtime QDQ int8 with
int8 (S8S8) or uint8 (U8S8) activations, with and without reduce_range, against the float model.

    python benchmarks/target_presets.py MODEL.onnx-fp32.onnx IMAGES_DIR [--images 64]
        [--rounds 5] [--calls 30] [--threads 1] [--markdown FILE]

MODEL is an exported onnx-fp32 file (its card gives the preprocessing); the first half of the
images (sorted, recursive) calibrates (per-channel weights, MinMax, QDQ), the other half measures
max/mean |dp| against the fp32 file. Latency: one image per call, rows interleaved per round,
median of round medians, ratio against S8S8. Prints whether this CPU has AVX512-VNNI / AVX-VNNI
(`/proc/cpuinfo`): the U8S8 saturation that reduce_range avoids exists only without VNNI, and only
such a CPU can show it. Quote the figures with the load average printed at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from edgexray.atomic import write_text_atomically
from edgexray.modelfile import read_card
from edgexray.postprocess import to_probabilities
from edgexray.preprocessing import Preprocessor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved, median_ms

ROWS = {  # name: (activation type, reduce_range)
    "S8S8": ("int8", False),
    "U8S8": ("uint8", False),
    "U8S8 reduce_range": ("uint8", True),
}


def _vnni() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = [f for f in ("avx512_vnni", "avx_vnni") if f" {f}" in flags]
    return ", ".join(found) or "none"


def _quantize(source: Path, out: Path, images: np.ndarray, activation: str, reduce: bool) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feed: Iterator[dict[str, np.ndarray]] = (
                {"input": images[i : i + 1]} for i in range(len(images))
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feed, None)

    quantize_static(
        str(source),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=reduce,
        activation_type=QuantType.QInt8 if activation == "int8" else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("images", type=Path)
    parser.add_argument("--images", dest="count", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    import onnxruntime as ort

    card = read_card(args.model)
    if card is None:
        raise SystemExit(f"{args.model}: no edgexray card (export it with edgexray export)")
    pre = Preprocessor.from_card(card)
    files = sorted(p for p in args.images.rglob("*") if p.is_file())
    step = max(1, len(files) // args.count)
    x = np.stack([pre(p) for p in files[::step][: args.count]]).astype(np.float32)
    calibration, held = x[: len(x) // 2], x[len(x) // 2 :]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads

    def session(path: Path) -> ort.InferenceSession:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(s: ort.InferenceSession, batch: np.ndarray) -> np.ndarray:
        raw = np.concatenate(
            [s.run(None, {"input": batch[i : i + 1]})[0] for i in range(len(batch))]
        )
        return to_probabilities(raw.reshape(len(batch), -1).astype(np.float32), card)

    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as folder:
        sessions = {"fp32": session(args.model)}
        # As the onnx-int8 exporter does: shape inference and graph optimisation first.
        prepared = Path(folder, "prepared.onnx")
        quant_pre_process(str(args.model), str(prepared), skip_symbolic_shape=True)
        for name, (activation, reduce) in ROWS.items():
            path = Path(folder, name.replace(" ", "_") + ".onnx")
            _quantize(prepared, path, calibration, activation, reduce)
            sessions[name] = session(path)
        want = run(sessions["fp32"], held)
        errors = {name: np.abs(run(s, held) - want) for name, s in sessions.items()}

        def timer(s: ort.InferenceSession) -> Callable[[], float]:
            return lambda: median_ms(
                lambda i: s.run(None, {"input": x[i % len(x)][None]}), args.calls
            )

        medians = interleaved({name: timer(s) for name, s in sessions.items()}, args.rounds)
    base = medians["S8S8"]
    load = os.getloadavg()
    lines = [
        f"`{args.model.name}`, ONNX Runtime {ort.__version__}, CPU VNNI: {_vnni()}; "
        f"{len(calibration)} calibration / {len(held)} measured images; {args.threads} thread(s), "
        f"{args.rounds} rounds x {args.calls} calls; load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}.",
        "",
        "| activations | max \\|dp\\| | mean \\|dp\\| | median ms | x S8S8 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, median in medians.items():
        e = errors[name]
        lines.append(
            f"| {name} | {e.max():.4f} | {e.mean():.4f} | {median:.3f} | {median / base:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text)


if __name__ == "__main__":
    main()
