"""What one explanation costs against one classification of the same image (issue 25: at most 10x
on a real-size model).

    python benchmarks/explain_speed.py                      # the shipped variants
    python benchmarks/explain_speed.py -m MODEL [-m ...] --steps 5 --steps 3

For each model file, method and occlusion setting, in interleaved rounds on one 256x256 PNG:
`predict` (decode, checks, one inference) then `explain` (the same decision, then the map: the
model's class evidence from one more inference, or the occluded copies through the engine in one
batch; the heatmap and the overlay), each the median of `--repeat` after a warm-up; the ratio
explain / predict is the figure. `--method` (repeatable, default: auto and occlusion) names the
methods; a model without class evidence is measured once, by occlusion. "CPU ms" is the process's CPU time per explanation (all
threads): with the load average beside it, it tells a loaded machine's figures from a quiet one's.
Writes benchmarks/EXPLAIN_SPEED.md (or --out).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click
from PIL import Image
from provenance import measured_on

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically
from edgexray.explain import OcclusionConfig

ROOT = Path(__file__).resolve().parent.parent
# The input checks are not what is timed (and one sample serves models calibrated on other sets).
UNCHECKED = ClassifierOptions(input_check="off")
MODELS = (
    "models/demo/seed_cnn.tflite-int8.tflite",
    "models/demo/seed_cnn.onnx-int8.onnx",
    "models/demo/seed_cnn.tflite-fp32.tflite",
    "models/finetune/finetune.tflite-int8.tflite",
    "models/finetune/finetune.onnx-int8.onnx",
    "models/finetune/finetune.tflite-fp32.tflite",
)


def _timed(call: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    started, cpu_started = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - started, time.process_time() - cpu_started


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


@click.command()
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Model file (repeatable); default: the shipped variants.",
)
@click.option(
    "--steps",
    "steps_list",
    multiple=True,
    type=click.IntRange(2, 64),
    help="Occlusion steps (repeatable); default: the default setting.",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(["class-evidence", "occlusion"]),
    help="Methods (repeatable); default: both (class evidence where the model has it).",
)
@click.option("--repeat", type=click.IntRange(min=1), default=15, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), default=ROOT / "benchmarks/EXPLAIN_SPEED.md"
)
def main(
    models: tuple[Path, ...],
    steps_list: tuple[int, ...],
    methods: tuple[str, ...],
    repeat: int,
    out: Path,
) -> None:
    files = models or tuple(ROOT / m for m in MODELS if (ROOT / m).is_file())
    occlusion = [OcclusionConfig(steps=s) for s in steps_list] or [OcclusionConfig()]
    methods = methods or ("class-evidence", "occlusion")
    sample = ROOT / "models/samples/binary/PNEUMONIA/PNEUMONIA_02.png"
    command = (
        "python benchmarks/explain_speed.py"
        + "".join(f" -m {m}" for m in models)
        + "".join(f" --steps {s}" for s in steps_list)
        + "".join(f" --method {m}" for m in methods if methods != ("class-evidence", "occlusion"))
        + f" --repeat {repeat}"
    )
    lines = [
        "# One explanation against one classification of the same image (256x256 PNG)",
        "",
        f"`{command}`: per model, method and setting, {repeat} interleaved rounds of `predict` "
        "then `explain` after a warm-up, medians. Class evidence: the decision, then one more "
        "inference for the map (engine images 1); occlusion: the decision, then the occluded "
        f"copies in one batch, mode {OcclusionConfig().mode!r}. Both draw the heatmap and the "
        f"overlay. Input checks off. {measured_on()}",
        "",
        "| model | input | method | steps | engine images | predict ms | explain ms | "
        "explain / predict | explain CPU ms | load average before / after |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "chest256.png"
        Image.open(sample).convert("L").resize((256, 256), Image.Resampling.BILINEAR).save(image)
        for model in files:
            with Classifier(model, UNCHECKED) as clf:
                runs = [
                    (method, config)
                    for method in methods
                    if method == "occlusion" or clf.has_class_evidence
                    for config in (occlusion if method == "occlusion" else [None])
                ]
            for method, config in runs:
                before = _load()
                with Classifier(model, UNCHECKED) as clf:
                    explain_one = partial(clf.explain, image, config=config, method=method)
                    clf.predict(image)
                    engine_images = explain_one().settings["engine_images"]
                    predict, explain, cpu = [], [], []
                    for _ in range(repeat):
                        predict.append(_timed(partial(clf.predict, image))[0])
                        wall, used = _timed(explain_one)
                        explain.append(wall)
                        cpu.append(used)
                    card = clf.card
                p, e = statistics.median(predict), statistics.median(explain)
                name = model.relative_to(ROOT) if model.is_relative_to(ROOT) else model.name
                steps = "-" if config is None else config.steps
                lines.append(
                    f"| {name} | {card.input_height}x{card.input_width}x{card.input_channels} | "
                    f"{method} | {steps} | {engine_images} | {p * 1000:.1f} | {e * 1000:.1f} | "
                    f"{e / p:.1f}x | {statistics.median(cpu) * 1000:.0f} | {before} / {_load()} |"
                )
                click.echo(lines[-1])
    write_text_atomically(out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
