"""How good and how faithful the explanations of the shipped models are (writes benchmarks/EXPLAIN.md).

    python benchmarks/explain_quality.py                 # the figures in docs/explain.md (~15 min here)
    python benchmarks/explain_quality.py --count 10      # a quick look

Images: fresh PNEUMONIA (and, for the fine-tuned model, COVID) images from the synthetic generator
with each model's training settings (edgexray_export.rebuild: seed 2026 trained, 2027 made the
samples; these use seed EXPLAIN_SEED, which neither used), written as 8-bit greys, with the mask of
where the generator drew the lesion. The class explained is the true one (the lesion's).

Methods: occlusion (edgexray.explain) through the int8 variants and through the float32 TFLite
variant (the full model: it matches Keras to 1e-5 in probability), the class evidence of each
variant exported with it (edgexray.explain.class_evidence: one inference), Grad-CAM and Grad-CAM++
on the Keras model, and a random map. Scores: edgexray_export.explain.localization (pointing game
with its stated tolerance, energy inside the lesion) and edgexray.explain.agreement (int8 map
against the full model's map: Spearman rank correlation, top-10% overlap).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.atomic import write_text_atomically

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click
import numpy as np
from edgexray_export.data.synthetic import (
    BINARY_CLASSES,
    THREE_CLASSES,
    SynthConfig,
    generate_image,
)
from edgexray_export.explain.localization import TOLERANCE, energy_inside, mask_at, pointing_hit
from edgexray_export.rebuild import BINARY_DIFFICULTY, RebuildPlan
from PIL import Image
from provenance import measured_on

from edgexray import Classifier
from edgexray.explain import OcclusionConfig, occlusion_map
from edgexray.explain.agreement import rank_correlation, top_overlap
from edgexray.explain.class_evidence import heatmaps

ROOT = Path(__file__).resolve().parent.parent
EXPLAIN_SEED = RebuildPlan.seed + 2


@dataclass(frozen=True)
class Subject:
    name: str
    keras: Path
    folder: Path
    stem: str
    config: SynthConfig
    classes: tuple[str, ...]
    int8: tuple[str, ...] = ("tflite-int8", "onnx-int8")
    full: str = "tflite-fp32"

    def variant(self, name: str) -> Path:
        suffix = ".onnx" if name.startswith("onnx") else ".tflite"
        return self.folder / f"{self.stem}.{name}{suffix}"


def subjects(count: int) -> list[Subject]:
    return [
        Subject(
            "seed CNN (binary, 256x256x1)",
            ROOT / "models/cnn/seed_cnn.keras",
            ROOT / "models/demo",
            "seed_cnn",
            SynthConfig(
                classes=BINARY_CLASSES, count=count, seed=EXPLAIN_SEED, difficulty=BINARY_DIFFICULTY
            ),
            ("PNEUMONIA",),
        ),
        Subject(
            "fine-tuned EfficientNet-Lite0 (three classes, 224x224x3)",
            ROOT / "models/finetune/finetune.keras",
            ROOT / "models/finetune",
            "finetune",
            SynthConfig(classes=THREE_CLASSES, count=count, seed=EXPLAIN_SEED),
            ("PNEUMONIA", "COVID"),
        ),
    ]


@dataclass
class Scores:
    hits: list[bool] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, heatmap: np.ndarray, mask: np.ndarray, seconds: float | None = None) -> None:
        self.hits.append(pointing_hit(heatmap, mask))
        self.energy.append(energy_inside(heatmap, mask))
        if seconds is not None:
            self.seconds.append(seconds)


def _row(method: str, s: Scores) -> str:
    timing = f"{statistics.median(s.seconds) * 1000:.0f}" if s.seconds else "-"
    return (
        f"| {method} | {len(s.hits)} | {100 * np.mean(s.hits):.0f}% | "
        f"{100 * np.mean(s.energy):.0f}% | {timing} |"
    )


def _images(
    subject: Subject, class_name: str, pre_side: tuple[int, int]
) -> Iterator[tuple[int, Image.Image, np.ndarray]]:
    for index in range(subject.config.count):
        image = generate_image(class_name, index, subject.config)
        pixels = Image.fromarray(np.rint(image.pixels * 255).astype(np.uint8), "L")
        if image.lesion is None:
            raise ValueError(f"{class_name} images have no lesion to point at")
        yield index, pixels, mask_at(image.lesion, *pre_side)


def measure(subject: Subject, config: OcclusionConfig, lines: list[str]) -> None:
    import keras
    from edgexray_export.explain.gradcam import GradCam

    model = keras.saving.load_model(subject.keras, compile=False)
    cams = {m: GradCam(model, method=m) for m in ("gradcam", "gradcam++")}
    engines = {name: Classifier(subject.variant(name)) for name in (*subject.int8, subject.full)}
    full = engines[subject.full]
    labels = full.labels
    size = (full.card.input_height, full.card.input_width)
    rng = np.random.default_rng(0)
    lines += [f"### {subject.name}", ""]
    for class_name in subject.classes:
        k = labels.index(class_name)
        scores: dict[str, Scores] = {}
        parity: dict[str, list[tuple[float, float]]] = {v: [] for v in subject.int8}
        areas = []
        for _, pixels, mask in _images(subject, class_name, size):
            areas.append(float(mask.mean()))
            x = full.preprocessor(pixels)
            maps = {}
            for name, clf in engines.items():
                started = time.perf_counter()
                _, m = occlusion_map(x, clf.predict_tensor, config)
                seconds = time.perf_counter() - started
                maps[name] = m[..., k]
                scores.setdefault(f"occlusion, {name}", Scores()).add(maps[name], mask, seconds)
            for name, clf in engines.items():
                if not clf.has_class_evidence:
                    continue
                started = time.perf_counter()
                probabilities = clf.predict_tensor(x[None])[0]
                evidence = clf.class_evidence(x[None])[0]
                binary = clf.card.task == "binary"
                maps[f"evidence {name}"] = heatmaps(evidence, probabilities, binary, *size)[..., k]
                scores.setdefault(f"class evidence, {name}", Scores()).add(
                    maps[f"evidence {name}"], mask, time.perf_counter() - started
                )
            for variant in subject.int8:
                for prefix, label in (("", variant), ("evidence ", f"class evidence, {variant}")):
                    if f"{prefix}{subject.full}" not in maps:
                        continue
                    parity.setdefault(label, []).append(
                        (
                            rank_correlation(maps[prefix + variant], maps[prefix + subject.full]),
                            top_overlap(maps[prefix + variant], maps[prefix + subject.full]),
                        )
                    )
            for method, cam in cams.items():
                started = time.perf_counter()
                _, heat = cam.maps(x[None], k)
                scores.setdefault(f"{method}, keras", Scores()).add(
                    heat[0], mask, time.perf_counter() - started
                )
            scores.setdefault("random map", Scores()).add(rng.random(size), mask)
        lines += [
            f"{class_name}: {len(areas)} images, lesion covers {100 * np.mean(areas):.0f}% of the "
            "image on average.",
            "",
            "| method | images | pointing game hit rate | energy inside lesion | ms per map |",
            "|---|---|---|---|---|",
            *(_row(method, s) for method, s in scores.items()),
            "",
            f"Explanation parity against the same method on {subject.full} ({class_name}):",
            "",
            "| variant | mean rank correlation | mean top-10% overlap |",
            "|---|---|---|",
            *(
                f"| {v} | {np.mean([a for a, _ in rows]):.3f} | {np.mean([b for _, b in rows]):.3f} |"
                for v, rows in parity.items()
            ),
            "",
        ]
    for clf in engines.values():
        clf.close()


@click.command()
@click.option("--count", type=click.IntRange(min=1), default=60, show_default=True)
@click.option(
    "--steps", type=click.IntRange(min=2), default=OcclusionConfig.steps, show_default=True
)
@click.option("--mode", type=click.Choice(["delete", "keep", "both"]), default=OcclusionConfig.mode)
@click.option("--only", type=click.Choice(["cnn", "finetune"]), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "benchmarks/EXPLAIN.md")
def main(count: int, steps: int, mode: str, only: str | None, out: Path) -> None:
    config = OcclusionConfig(steps=steps, mode=mode)
    out = out.resolve()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Explanation quality of the shipped models",
        "",
        f"`python benchmarks/explain_quality.py --count {count} --steps {steps} --mode {mode}"
        + (f" --only {only}" if only else "")
        + (f" --out {out.relative_to(ROOT)}" if out.is_relative_to(ROOT) else f" --out {out}")
        + "`; "
        f"occlusion mode {mode!r}, {steps} window positions per side; class evidence for the "
        "variants exported with it; pointing-game tolerance "
        f"{100 * TOLERANCE:.0f}% of the input side; images: synthetic seed {EXPLAIN_SEED} (never "
        "used in training), training generator settings. Timing (median, one map, no decoding) "
        f"measured on a shared 2-core machine: `{load}`. {measured_on()}",
        "",
    ]
    for subject in subjects(count):
        if only and not subject.stem.startswith({"cnn": "seed", "finetune": "finetune"}[only]):
            continue
        measure(subject, config, lines)
    write_text_atomically(out, "\n".join(lines) + "\n")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
