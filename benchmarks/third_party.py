"""The input checks on a third-party-like model exported with a small calibration set (issue 24).

    python benchmarks/third_party.py --data build/synthetic      # -> benchmarks/THIRD_PARTY.md

The model: an EfficientNet-Lite0 backbone at 150 x 150 RGB (its weights taken from the shipped
fine-tuned model's backbone, as a user starts from pretrained weights)
with a new head (global average pooling, dropout, one sigmoid unit) fine-tuned on synthetic
NORMAL/PNEUMONIA films of seed TRAIN_SEED, the backbone frozen; preprocessing outside the model,
so it is exported with `--normalize symmetric`. Exported (tflite-int8) twice: with CALIBRATION
images of its own (seed CALIBRATION_SEED), as the issue's Xception was, and with 200.

Measured as benchmarks/input_check.py measures (its non-chest set, 40 per category, seed 9090,
and the binary held-out chest films of rebuild's set, taken from --data or drawn into
benchmarks/.cache) through the Classifier in strict mode: the share of non-chest images refused
(goal >= 95%) and of held-out chest films refused (goal <= 1%).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.data.not_chest import write_not_chest
from edgexray_export.data.synthetic import BINARY_CLASSES, SynthConfig, write_dataset
from edgexray_export.pipeline import export_model
from input_check import (
    CATEGORIES,
    DRAWN,
    HERE,
    NOT_CHEST_SEED,
    PER_CATEGORY,
    ROOT,
    TURNED,
    Inputs,
    build_inputs,
    held_out_chests,
    run_variant,
)

from edgexray.atomic import write_text_atomically
from edgexray.preprocessing import Preprocessor

SIDE = 150
TRAIN_SEED = 4141
CALIBRATION_SEED = 4242
CALIBRATION = 8
VARIANT = "tflite-int8"


def _pretrained_backbone() -> Any:
    """EfficientNet-Lite0 at SIDE px with the shipped fine-tuned model's backbone weights (the
    network is fully convolutional, so the weights fit any input size). Until issue 26 the shipped
    backbone, and so this one, was a MobileNetV2 (alpha 0.35)."""
    import keras
    from edgexray_export.training.efficientnet_lite import lite0_backbone

    shipped = keras.models.load_model(ROOT / "models" / "finetune" / "finetune.keras")
    source = shipped.get_layer("backbone")
    backbone = lite0_backbone((SIDE, SIDE, 3))
    backbone.set_weights(source.get_weights())
    backbone.trainable = False
    return backbone


def build_model(work: Path, per_class: int) -> Path:
    """Fine-tune a new binary head on the pretrained backbone, on `per_class` films of each
    class; returns the saved .keras file."""
    import keras

    keras.utils.set_random_seed(0)
    files = write_dataset(
        work / "train",
        SynthConfig(classes=BINARY_CLASSES, count=per_class, seed=TRAIN_SEED, max_side=900),
        workers=2,
    )
    pre = Preprocessor(SIDE, SIDE, color_mode="rgb", normalize="symmetric")
    x = np.stack([pre(path) for path in files])
    y = np.array([BINARY_CLASSES.index(path.parent.name) for path in files], dtype=np.float32)
    inputs = keras.Input((SIDE, SIDE, 3))
    features = keras.layers.GlobalAveragePooling2D()(_pretrained_backbone()(inputs))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dropout(0.2)(features))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="binary_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    path = work / "third_party.keras"
    model.save(path)
    return path


def export(model: Path, work: Path, images: int) -> Path:
    folder = write_dataset(
        work / f"calibration-{images}",
        SynthConfig(
            classes=BINARY_CLASSES, count=(images + 1) // 2, seed=CALIBRATION_SEED, max_side=900
        ),
    )[0].parent.parent
    report = export_model(
        model,
        work / f"exported-{images}",
        calibration_dir=folder,
        calibration_size=images,
        normalize="symmetric",
        variants=[VARIANT],
        allow_degraded=True,
        min_agreement=0.0,
        progress=lambda line: print(f"export: {line}", flush=True),
    )
    path = report.result(VARIANT).path
    if path is None:
        raise SystemExit(f"{VARIANT} was not exported: {report.result(VARIANT).error}")
    return path


def _inputs(work: Path, data: Path | None, per_category: int, step: int) -> dict[str, Inputs]:
    """benchmarks/input_check.py's inputs for the binary family, smaller: `per_category` images
    of each non-chest category, every `step`-th held-out film, the binary bundled samples."""
    drawn = write_not_chest(work / "not-chest", per_category, NOT_CHEST_SEED, categories=DRAWN)
    chest = held_out_chests("cnn", data, HERE / ".cache")[::step]
    turned = write_not_chest(work / "turned", per_category, NOT_CHEST_SEED, chest, TURNED)
    samples = sorted((ROOT / "models" / "samples" / "binary").rglob("*.png"))
    return {"cnn": Inputs({**drawn, **turned}, chest, samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="rebuild's data folder")
    parser.add_argument("--out", type=Path, default=HERE / "THIRD_PARTY.md")
    parser.add_argument(
        "--calibration", default=f"{CALIBRATION},200", help="calibration sizes, comma-separated"
    )
    parser.add_argument(
        "--sample", type=int, default=0, help="measure on every n-th image of each set (0: all)"
    )
    parser.add_argument("--train-per-class", type=int, default=150)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        model = build_model(work, args.train_per_class)
        inputs = (
            _inputs(work, args.data, PER_CATEGORY // args.sample, args.sample)
            if args.sample > 1
            else build_inputs(work, args.data, {"cnn"})
        )
        for images in (int(n) for n in args.calibration.split(",")):
            outcome = run_variant(export(model, work, images), inputs)
            non_chest = float(np.mean([outcome.rejected[c][0] for c in CATEGORIES]))
            chest, by = outcome.rejected["held-out chest"]
            per = ", ".join(f"{c} {outcome.rejected[c][0]:.0%}" for c in CATEGORIES)
            why = ", ".join(f"{check} {n}" for check, n in by.most_common()) or "-"
            rows.append(
                f"| {images} | {outcome.model_check} | {non_chest:.1%} | {chest:.1%} "
                f"({sum(by.values())} of {outcome.sizes['held-out chest']}) | {why} | {per} |"
            )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = "\n".join(
        [
            "# Input checks on a third-party-like model",
            "",
            f"`python benchmarks/third_party.py {' '.join(sys.argv[1:])}` "
            f"({datetime.date.today().isoformat()}, load "
            f"{load}); see its docstring. {VARIANT}, strict mode.",
            "",
            "| calibration images | model check | non-chest refused | held-out chest refused "
            "| held-out chests refused by | by category |",
            "|---:|---|---:|---:|---|---|",
            *rows,
            "",
        ]
    )
    write_text_atomically(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
