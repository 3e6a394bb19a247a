"""onnx-int8 settings compared on one Keras model: error against Keras, decisions, latency.

    python benchmarks/quantization_onnx.py MODEL.keras --data HELD_OUT_DIR \
        [--work /tmp/quant-onnx/NAME] [--markdown benchmarks/QUANTIZATION_ONNX-NAME.md] \
        [--calibration-images 128] [--rounds 7] [--calls 30] [--prefix 13,26,52]

The images are split as `edgexray export` splits them (seeded, stratified; half calibrate, half are
held out for parity). Every row is a model file written by the exporter's own code
(`ONNXInt8Static.quantize`, ONNX Runtime's quantize_static, QDQ), except the NNCF rows
(`nncf.quantize`, fast bias correction, when nncf is installed) and two reference rows: the float
model itself, and the float model fed its input rounded to 8 bits (the error floor of any setting
that quantizes the input). Error: max and mean |dp| of the probabilities against Keras on the parity
images, run one image per call as the runtime does; agreement: same top-1; decisions changed: at the
card's threshold (binary) or argmax. Latency: one preprocessed image, ONNX Runtime with one thread,
CPU time of the calling thread per call (less disturbed by a busy machine than wall time), rounds
interleaved; the ratio is against "plain int8" (every activation int8, the output too), measured in
the same run.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import measured_on
from rounds import interleaved, median_ms

from edgexray.atomic import write_text_atomically
from edgexray.card import ModelCard
from edgexray.engines.outputs import output_positions
from edgexray.postprocess import decide, to_probabilities

if TYPE_CHECKING:
    from edgexray_export.keras_loading import KerasModelInfo
    from edgexray_export.variants.base import ConversionInput

GOAL_MAX, GOAL_MEAN = 0.05, 0.01


@dataclass(frozen=True)
class Row:
    method: str
    max_dp: float
    mean_dp: float
    agreement: float
    changed: int
    latency_ms: float | None = None
    ratio: float | None = None


def _card(model: Path, info: KerasModelInfo, labels: tuple[str, ...]) -> ModelCard:
    from edgexray_export.training.train import read_training_info

    training = read_training_info(model) or {}
    units = info.output_units
    return ModelCard(
        labels=labels,
        task="binary" if units == 1 else "multiclass",
        input_height=info.input_height,
        input_width=info.input_width,
        input_channels=info.input_channels,
        normalize=training.get("normalize", "unit"),
        interpolation=training.get("interpolation", "bilinear"),
        output_kind=info.output_kind,  # type: ignore[arg-type]
        threshold=training.get("threshold"),
    )


def _session(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    position = output_positions([o.name for o in session.get_outputs()]).prediction
    return lambda x: session.run(None, {name: x})[position]


def _one_by_one(run: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    return np.concatenate([run(images[i : i + 1]) for i in range(len(images))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--calibration-images", type=int, default=128)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--prefix", default="", help="also rows with the first N nodes float")
    args = parser.parse_args()

    import onnx
    from edgexray_export.calibration import load_tensors, split_images
    from edgexray_export.keras_loading import load_keras_model
    from edgexray_export.quantization import QuantizationConfig
    from edgexray_export.variants.base import ConversionInput
    from edgexray_export.variants.onnx import ONNXInt8Static, preprocessed_float

    from edgexray.preprocessing import Preprocessor

    work = args.work or Path("/tmp/quant-onnx") / args.model.stem
    work.mkdir(parents=True, exist_ok=True)
    loaded = load_keras_model(args.model, False)
    split = split_images(
        args.data, sum(1 for f in args.data.rglob("*") if f.is_file()), seed=args.seed
    )
    card = _card(args.model, loaded.info, split.class_names)
    pre = Preprocessor.from_card(card)
    calibration = load_tensors(split.calibration, pre)
    parity = load_tensors(split.parity, pre)
    job = ConversionInput(
        source=loaded,
        card=card,
        calibration=calibration,
        calibration_reference=loaded.predict_raw(calibration),
        quantization=QuantizationConfig(max_calibration_images=args.calibration_images),
    )
    want = to_probabilities(loaded.predict_raw(parity).astype(np.float32), card)
    prepared = preprocessed_float(job, work)
    exporter = ONNXInt8Static()
    given = job.quantization
    nodes = [n.name for n in onnx.load(str(prepared)).graph.node]

    def static(config: QuantizationConfig, float_output: bool = True) -> Callable[[Path], None]:
        return lambda path: exporter.quantize(prepared, job, config, path, float_output)

    methods: dict[str, Callable[[Path], None] | Path] = {
        "plain int8 (minmax, S8S8, per-channel, output int8)": static(given, False),
        "minmax, S8S8, per-channel, float tail": static(given),
        "percentile 99.999": static(given.replace(calibration_method="percentile")),
        "entropy": static(given.replace(calibration_method="entropy")),
        "minmax, per-tensor weights": static(given.replace(per_channel=False)),
        "minmax, U8S8 (uint8 activations)": static(given.replace(onnx_activation_type="uint8")),
    }
    for count in [int(n) for n in args.prefix.split(",") if n.strip()]:
        methods[f"minmax, first {count} of {len(nodes)} nodes float"] = static(
            given.replace(nodes_to_exclude=tuple(nodes[:count]))
        )
    for preset in ("MIXED", "PERFORMANCE"):
        methods[f"NNCF {preset}, fast bias correction"] = _nncf_writer(prepared, job, preset)
    methods["float32 (no quantization)"] = prepared

    files: dict[str, Path] = {}
    for i, (method, writer) in enumerate(methods.items()):
        if isinstance(writer, Path):
            files[method] = writer
            continue
        path = work / f"method{i}.onnx"
        started = time.time()
        try:
            writer(path)
        except ImportError as exc:
            print(f"{method}: skipped ({exc})", file=sys.stderr)
            continue
        print(f"{method}: written in {time.time() - started:.0f} s", file=sys.stderr)
        files[method] = path

    runs = {method: _session(path) for method, path in files.items()}
    rows: dict[str, Row] = {}

    def row(method: str, got: np.ndarray) -> Row:
        p = to_probabilities(got.reshape(len(parity), -1).astype(np.float32), card)
        dp = np.abs(p - want)
        return Row(
            method,
            float(dp.max()),
            float(dp.mean()),
            float(np.mean(p.argmax(1) == want.argmax(1))),
            int(np.sum(decide(p, card) != decide(want, card))),
        )

    for method, run in runs.items():
        rows[method] = row(method, _one_by_one(run, parity))
    low, high = float(parity.min()), float(parity.max())
    step = (high - low) / 255
    rounded = (np.round((parity - low) / step) * step + low).astype(np.float32)
    floor = "float32, input rounded to 8 bits (error floor)"
    rows[floor] = row(floor, _one_by_one(runs["float32 (no quantization)"], rounded))

    x = parity[:1]

    def timer(run: Callable[[np.ndarray], np.ndarray]) -> Callable[[], float]:
        return functools.partial(median_ms, lambda _: run(x), args.calls, time.thread_time)

    timers = {method: timer(run) for method, run in runs.items()}
    timed = interleaved(timers, args.rounds)
    baseline = timed[next(iter(timed))]
    for method, ms in timed.items():
        rows[method] = Row(**{**rows[method].__dict__, "latency_ms": ms, "ratio": ms / baseline})
    load = os.getloadavg()
    text = _markdown(args, card, len(parity), len(calibration), list(rows.values()), load)
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text)


def _nncf_writer(prepared: Path, job: ConversionInput, preset: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import nncf
        import onnx

        model = onnx.load(str(prepared))
        name = model.graph.input[0].name
        images = job.calibration[: job.quantization.max_calibration_images]
        dataset = nncf.Dataset(list(images), lambda x: {name: x[None]})
        quantized = nncf.quantize(
            model,
            dataset,
            preset=getattr(nncf.QuantizationPreset, preset),
            subset_size=len(images),
            fast_bias_correction=True,
        )
        onnx.save(quantized, str(path))

    return write


def _markdown(
    args: argparse.Namespace,
    card: ModelCard,
    parity: int,
    calibration: int,
    rows: list[Row],
    load: tuple[float, float, float],
) -> str:
    decision = f"threshold {card.decision_threshold:.4f}" if card.task == "binary" else "argmax"
    lines = [
        f"# onnx-int8 settings on `{args.model.name}`",
        "",
        f"{parity} parity images, {min(calibration, args.calibration_images)} calibration images "
        f"(of {calibration}); decisions at the card's {decision}. Goal: max |dp| <= {GOAL_MAX}, "
        f"mean <= {GOAL_MEAN}, no decision changed, latency <= 1.10x plain int8. {measured_on()} "
        "Load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end of the run.",
        "",
        f"`python benchmarks/quantization_onnx.py {args.model} --data {args.data} "
        f"--calibration-images {args.calibration_images}"
        + (f" --prefix {args.prefix}" if args.prefix else "")
        + "`",
        "",
        "| method | max abs dp | mean abs dp | top-1 agreement | decisions changed | CPU ms | vs plain int8 | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        met = r.max_dp <= GOAL_MAX and r.mean_dp <= GOAL_MEAN and r.changed == 0
        fast = r.ratio is None or r.ratio <= 1.10
        lines.append(
            f"| {r.method} | {r.max_dp:.4f} | {r.mean_dp:.5f} | {r.agreement:.4f} | {r.changed} | "
            + ("" if r.latency_ms is None else f"{r.latency_ms:.2f}")
            + " | "
            + ("" if r.ratio is None else f"{r.ratio:.2f}x")
            + f" | {'met' if met and fast else 'missed'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
