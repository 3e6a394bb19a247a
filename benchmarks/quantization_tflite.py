"""What the TFLite converter offers for int8, compared on one model: error, decisions, size, speed.

    python benchmarks/quantization_tflite.py MODEL.keras --calibration DIR --calibration-size N \
        -o OUT [--markdown FILE] [--max-mean-dp 0.005] [--max-dp 0.04] [--only ROW,ROW]
        [--rounds 5] [--calls 50] [--threads 1]

Rows, each a tflite-int8 file exported by `edgexray_export.pipeline.export_model` with one setting
changed (one export run, so every row shares the calibration/parity split and the Keras reference;
parity is measured one image per call, as `classify` runs it):

- int8: the shipped setting without a budget (per-channel weights, every calibration image, the
  output activation in float);
- per-tensor: one weight scale per tensor (the converter's `_experimental_disable_per_channel`);
- cal-32 / cal-100: min/max calibration on the first 32 / 100 calibration images only;
- worst / blocks / prefix: the float fallback with the budget (--max-mean-dp, --max-dp on the
  calibration images) keeping in float the worst layers by contribution / the worst blocks of
  consecutive layers by contribution / the input and leading layers;
- int16x8: 16-bit activations, 8-bit weights everywhere (the converter's
  EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8);
- fp32: the float model, for scale.

The TFLite converter has no bias correction (NNCF's fast bias correction is for ONNX/OpenVINO
models: see benchmarks/quantization_onnx.py) and no percentile or entropy range setting for int8.

Latency: one preprocessed image through `Classifier.predict_tensor`, rows interleaved per round,
median of round medians, as wall time and as the calling thread's CPU time (steadier on a busy
machine); ratios are against the int8 row measured in the same rounds. Quote them with the load
average printed at the end. `--timing-only` re-times the files of an earlier run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.pipeline import export_model
from edgexray_export.quantization import QuantizationConfig
from edgexray_export.training.train import read_training_info
from edgexray_export.variants import VARIANTS, ConversionInput, VariantExporter
from edgexray_export.variants.tflite import TFLiteExporter, TFLiteFloat32, TFLiteInt8

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically
from edgexray.modelfile import read_card

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved, median_ms


def _int8_row(
    row: str, change: Callable[[QuantizationConfig], QuantizationConfig], debug: bool = False
) -> type:
    """A tflite-int8 exporter named `bench-ROW` whose job's QuantizationConfig is `change`d;
    `debug` also writes its --debug-quantization report (with the contribution column)."""

    class Row(TFLiteInt8):
        name = f"bench-{row}"

        def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
            changed = dataclasses.replace(
                job, quantization=change(job.quantization), debug_quantization=debug
            )
            return super().convert(changed, out_path)

    return Row


class Int16x8(TFLiteExporter):
    """16-bit activations, 8-bit weights, float input and output."""

    name = "bench-int16x8"

    def configure(self, converter: Any, job: ConversionInput) -> dict[str, Any]:
        import tensorflow as tf

        images = job.calibration

        def representative_dataset() -> Any:
            for i in range(len(images)):
                yield [images[i : i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]
        return {"weights": "int8", "activations": "int16"}


class Float32(TFLiteFloat32):
    name = "bench-fp32"


def _rows(mean_budget: float, max_budget: float) -> dict[str, type[VariantExporter]]:
    def budget(fallback: str) -> Callable[[QuantizationConfig], QuantizationConfig]:
        return lambda c: c.replace(
            tflite_max_mean_abs_diff=mean_budget,
            tflite_max_abs_diff=max_budget,
            tflite_fallback=fallback,
        )

    return {
        "int8": _int8_row("int8", lambda c: c),
        "per-tensor": _int8_row("per-tensor", lambda c: c.replace(per_channel=False)),
        "cal-32": _int8_row("cal-32", lambda c: c.replace(max_calibration_images=32)),
        "cal-100": _int8_row("cal-100", lambda c: c.replace(max_calibration_images=100)),
        # The worst-layer row ranks the layers anyway: its report costs nothing more.
        "worst": _int8_row("worst", budget("worst"), debug=True),
        "blocks": _int8_row("blocks", budget("blocks")),
        "prefix": _int8_row("prefix", budget("prefix")),
        "int16x8": Int16x8,
        "fp32": Float32,
    }


def _float_layers(path: Path) -> str:
    """'F of N' layers computing in float32, read back from the file (int8 rows only)."""
    card = read_card(path)
    quantization = (card.quantization if card else None) or {}
    if "float_layers" not in quantization:
        return ""
    floats = quantization["float_layers"]
    return f"{floats} of {floats + quantization['int8_layers']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--calibration-size", type=int, default=300)
    parser.add_argument("-o", "--output-dir", type=Path, required=True)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--max-mean-dp", type=float, default=0.005)
    parser.add_argument("--max-dp", type=float, default=0.04)
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated rows (default: all but int16x8, which runs on LiteRT's reference "
        "kernels: 82x the int8 time on the seed CNN)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026, help="calibration/parity split")
    parser.add_argument(
        "--timing-only",
        action="store_true",
        help="re-time the files already in -o (parity figures from their cards)",
    )
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    rows = _rows(args.max_mean_dp, args.max_dp)
    chosen = [r for r in args.only.split(",") if r] or [r for r in rows if r != "int16x8"]
    if not args.timing_only:
        _export(args, rows, chosen)
    stem = args.model.with_suffix("").name
    paths = {r: args.output_dir / f"{stem}.{rows[r].name}.tflite" for r in chosen}
    paths = {r: path for r, path in paths.items() if path.is_file()}
    classifiers = {
        r: Classifier(path, ClassifierOptions(threads=args.threads)) for r, path in paths.items()
    }
    card = next(iter(classifiers.values())).card
    x = np.random.default_rng(0).random(
        (1, card.input_height, card.input_width, card.input_channels), dtype=np.float32
    )

    def timer(classifier: Classifier, clock: Callable[[], float]) -> Callable[[], float]:
        return lambda: median_ms(lambda _: classifier.predict_tensor(x), args.calls, clock)

    # Wall time, and the calling thread's CPU time: with one engine thread LiteRT computes in the
    # calling thread, and its CPU time is far less disturbed by other processes than wall time.
    wall = interleaved(
        {r: timer(c, time.perf_counter) for r, c in classifiers.items()}, args.rounds
    )
    cpu = interleaved({r: timer(c, time.thread_time) for r, c in classifiers.items()}, args.rounds)
    parity = args.output_dir / f"{stem}.parity.json"
    figures = json.loads(parity.read_text()) if parity.is_file() else {}
    lines = [
        f"Model `{args.model.name}`: {figures.get('calibration_images')} calibration, "
        f"{figures.get('parity_images')} parity images; budget for worst/blocks/prefix on the "
        f"calibration images: mean |dp| <= {args.max_mean_dp}, max |dp| <= {args.max_dp}; "
        f"{args.threads} thread(s), {args.rounds} rounds x {args.calls} calls.",
        "",
        "| setting | size kB | agreement | max \\|dp\\| | mean \\|dp\\| | decisions changed "
        "| float layers | wall ms | x int8 | CPU ms | x int8 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in chosen:
        found = read_card(paths[r]) if r in paths else None
        if found is None or found.parity is None:
            lines.append(f"| {r} | not exported |" + " |" * 10)
            continue
        p = found.parity
        changed = "" if p.decisions_changed is None else str(p.decisions_changed)
        lines.append(
            f"| {r} | {paths[r].stat().st_size / 1000:.0f} | {p.agreement:.2%} | "
            f"{p.max_abs_diff:.4f} | {p.mean_abs_diff:.4f} | {changed} | "
            f"{_float_layers(paths[r])} | {wall[r]:.3f} | {_ratio(wall, r)} | "
            f"{cpu[r]:.3f} | {_ratio(cpu, r)} |"
        )
    load = os.getloadavg()
    lines += ["", f"Load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        write_text_atomically(args.markdown, text)
    for classifier in classifiers.values():
        classifier.close()


def _ratio(medians: dict[str, float], row: str) -> str:
    return f"{medians[row] / medians['int8']:.3f}" if "int8" in medians else ""


def _export(
    args: argparse.Namespace, rows: dict[str, type[VariantExporter]], chosen: list[str]
) -> None:
    # A benchmark script: the rows become variants for this one process only.
    VARIANTS.update({rows[r].name: rows[r] for r in chosen})
    # As edgexray_export.rebuild exports the shipped models: preprocessing, labels and threshold
    # from the training sidecar, the same split seed, the whole int8 ladder.
    info = read_training_info(args.model) or {}
    export_model(
        args.model,
        args.output_dir,
        calibration_dir=args.calibration,
        calibration_size=args.calibration_size,
        variants=[rows[r].name for r in chosen],
        min_agreement=0.0,
        quality_target=1.0,
        labels=info.get("labels"),
        normalize=info.get("normalize"),
        interpolation=info.get("interpolation", "bilinear"),
        threshold=info.get("threshold"),
        seed=args.seed,
        progress=lambda line: print(f"export: {line}", file=sys.stderr, flush=True),
    )


if __name__ == "__main__":
    main()
