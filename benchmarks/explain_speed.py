"""Time one explanation (decode, occlusion through the engine, overlay) of a 256x256 image.

    python benchmarks/explain_speed.py          # writes benchmarks/EXPLAIN_SPEED.md

Median of `--repeat` explanations after one warm-up, per shipped int8 (and float) variant, with the
load average next to the figures: the machine is shared. "CPU ms" is the process's CPU time per
explanation (all threads): on an idle machine the wall time lies between CPU/threads and CPU, which
gives an estimate when the load average is far above the core count.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import click
from PIL import Image
from provenance import measured_on

from edgexray import Classifier
from edgexray.atomic import write_text_atomically
from edgexray.explain import OcclusionConfig

ROOT = Path(__file__).resolve().parent.parent
MODELS = (
    "models/demo/seed_cnn.tflite-int8.tflite",
    "models/demo/seed_cnn.onnx-int8.onnx",
    "models/demo/seed_cnn.tflite-fp32.tflite",
    "models/finetune/finetune.tflite-int8.tflite",
    "models/finetune/finetune.onnx-int8.onnx",
    "models/finetune/finetune.tflite-fp32.tflite",
)


@click.command()
@click.option("--repeat", type=click.IntRange(min=1), default=15, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), default=ROOT / "benchmarks/EXPLAIN_SPEED.md"
)
def main(repeat: int, out: Path) -> None:
    sample = ROOT / "models/samples/binary/PNEUMONIA/PNEUMONIA_02.png"
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "chest256.png"
        Image.open(sample).convert("L").resize((256, 256), Image.Resampling.BILINEAR).save(image)
        lines = [
            "# Speed of one explanation (256x256 PNG: decode, occlusion, overlay)",
            "",
            f"`python benchmarks/explain_speed.py --repeat {repeat}`; median of {repeat} after a "
            f"warm-up; occlusion {OcclusionConfig().mode!r}, {OcclusionConfig().steps} steps. "
            f"{measured_on()}",
            "",
            "| model | engine images | median ms | min ms | median CPU ms | load average before / after |",
            "|---|---|---|---|---|---|",
        ]
        for model in MODELS:
            before = _load()
            with Classifier(ROOT / model) as clf:
                clf.explain(image)
                times, cpu = [], []
                for _ in range(repeat):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    explanation = clf.explain(image)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
            lines.append(
                f"| {model} | {explanation.settings['engine_images']} | "
                f"{statistics.median(times) * 1000:.0f} | {min(times) * 1000:.0f} | "
                f"{statistics.median(cpu) * 1000:.0f} | {before} / {_load()} |"
            )
            click.echo(lines[-1])
    write_text_atomically(out, "\n".join(lines) + "\n")


def _load() -> str:
    text = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    return text.rsplit("load average:", 1)[-1].strip()


if __name__ == "__main__":
    main()
