"""Which features should the model check read? The head's input (what export taps today) against
statistics of the model's feature maps, on the shipped Keras models (float, TensorFlow needed).

    python benchmarks/feature_taps.py                  # -> benchmarks/FEATURE_TAPS.md
    python benchmarks/feature_taps.py --data DIR       # rebuild's data folder (held-out-cnn, ...)

For each model, the calibration half of its held-out chests (the images export fits the model
check on: `split_images` of rebuild's held-out folder, as rebuild calls export) fits a summary
exactly as export does for the shipped models (`fit_model_check` with the k-NN score rebuild pins:
16 PCA components, threshold at the 99th percentile of a held-out half times 1.1), once per
candidate feature set:

- `head input`: the classifier head's (N, D) input, export's default;
- for every layer with a (N, H, W, C) output: `mean` (global average pooling), `mean+std` (and
  the per-channel standard deviation over the map), `halves` (the mean of the top and of the
  bottom half of the map: pooling that keeps which way up the image is), `statistics` (the map
  averaged into 8 x 8 cells, then the cells' mean, mean absolute deviation and both halves'
  means: what `export --model-check-layer` exports).

The row in bold is what the shipped model check reads (export/rebuild.py's MODEL_CHECKS). Every
row uses the default margin (1.1), whatever the shipped card's.

Each is scored on the other half of the held-out chests (the parity images, not fitted on) and on
the labelled non-chest set of benchmarks/input_check.py. A cell is the share above the threshold:
the candidate alone, without the image checks or the appearance check. This measures features;
it does not change what export ships.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from edgexray_export.calibration import load_tensors, split_images
from edgexray_export.model_check_fit import ModelCheckConfig, fit_model_check
from input_check import CATEGORIES, HERE, ROOT, build_inputs, held_out_chests
from provenance import measured_on

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically
from edgexray.preprocessing import Preprocessor

MODELS = {  # family -> (Keras model, an exported variant whose card gives the preprocessing)
    "cnn": (ROOT / "models" / "cnn" / "seed_cnn.keras", ROOT / "models" / "demo"),
    "finetune": (ROOT / "models" / "finetune" / "finetune.keras", ROOT / "models" / "finetune"),
}
Reduce = Callable[[np.ndarray], np.ndarray]
REDUCTIONS: dict[str, Reduce] = {
    "mean": lambda m: m.mean(axis=(1, 2)),
    "mean+std": lambda m: np.concatenate([m.mean(axis=(1, 2)), m.std(axis=(1, 2))], axis=1),
    "halves": lambda m: np.concatenate(
        [m[:, : m.shape[1] // 2].mean(axis=(1, 2)), m[:, m.shape[1] // 2 :].mean(axis=(1, 2))],
        axis=1,
    ),
}


def _cells(m: np.ndarray, cells: int = 8) -> np.ndarray:
    """The map averaged into about `cells` x `cells` cells (remainder rows and columns dropped)."""
    n, h, w, c = m.shape
    k, j = max(1, h // cells), max(1, w // cells)
    m = m[:, : (h // k) * k, : (w // j) * j]
    return m.reshape(n, h // k, k, w // j, j, c).mean(axis=(2, 4))


def _coarse(m: np.ndarray) -> np.ndarray:
    """Per channel: the cells' mean, their mean absolute deviation, the top and bottom halves'
    means."""
    g = _cells(m)
    mean = g.mean(axis=(1, 2))
    return np.concatenate(
        [
            mean,
            np.abs(g - mean[:, None, None]).mean(axis=(1, 2)),
            g[:, : g.shape[1] // 2].mean(axis=(1, 2)),
            g[:, g.shape[1] // 2 :].mean(axis=(1, 2)),
        ],
        axis=1,
    )


# What `export --model-check-layer` exports (edgexray_export.feature_tap.map_statistics).
REDUCTIONS["statistics"] = _coarse


def _shipped(family: str) -> str:
    """The candidate the shipped model check reads (export/rebuild.py's MODEL_CHECKS)."""
    from edgexray_export.model_check_layer import HEAD_INPUT
    from edgexray_export.rebuild import MODEL_CHECKS

    layer = MODEL_CHECKS[family][0] if family in MODEL_CHECKS else HEAD_INPUT
    return "head input" if layer == HEAD_INPUT else f"{layer}: statistics"


def _card_preprocessor(folder: Path) -> Preprocessor:
    variant = next(p for p in sorted(folder.glob("*.tflite")))
    with Classifier(variant, ClassifierOptions(input_check="off")) as classifier:
        return Preprocessor.from_card(classifier.card)


def _taps(model: object) -> tuple[list[str], object]:
    """The candidate layers (rank-4 output) and a model giving the head input and each of their
    outputs. The model's layers are replayed in order on a new input: both shipped models are
    linear stacks, and a layer's `.output` need not be this model's (a Sequential model's layers
    can belong to several graphs; a nested backbone's `.output` is its own graph's)."""
    import keras

    if not isinstance(model, keras.Model):
        raise SystemExit(f"expected a Keras model, got {type(model).__name__}")
    inputs = keras.Input(model.inputs[0].shape[1:])
    x, produced = inputs, []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        x = layer(x)
        if not isinstance(layer, keras.layers.Dropout):  # the same map as its input here
            produced.append((layer.name, x))
    if len(produced) < 2 or len(produced[-2][1].shape) != 2:
        raise SystemExit("the model's last layer does not read (N, D) features")
    maps = [(name, out) for name, out in produced if len(out.shape) == 4]
    tapped = keras.Model(inputs, [produced[-2][1], *(out for _, out in maps)])
    return [name for name, _ in maps], tapped


def candidate_features(model: object, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every candidate feature set of `x`, computed batch by batch (the maps are large)."""
    names, tapped = _taps(model)
    found: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(x), 16):
        outputs = tapped(x[start : start + 16], training=False)  # type: ignore[operator]
        found.setdefault("head input", []).append(np.asarray(outputs[0]))
        for name, feature_map in zip(names, outputs[1:], strict=True):
            feature_map = np.asarray(feature_map, dtype=np.float64)
            for kind, reduce in REDUCTIONS.items():
                found.setdefault(f"{name}: {kind}", []).append(reduce(feature_map))
    return {key: np.concatenate(chunks) for key, chunks in found.items()}


def _tensors(paths: list[Path], pre: Preprocessor) -> np.ndarray:
    return np.stack([pre(path) for path in paths])


def measure_family(family: str, data: Path | None, work: Path) -> str:
    import keras

    keras_path, variants = MODELS[family]
    model = keras.saving.load_model(keras_path)
    pre = _card_preprocessor(variants)
    chest = held_out_chests(family, data, HERE / ".cache")
    split = split_images(chest[0].parent.parent, len(chest))
    calibration = load_tensors(split.calibration, pre)
    groups = {"held-out chest (not fitted)": load_tensors(split.parity, pre)}
    inputs = build_inputs(work, data, {family})[family]
    groups |= {name: _tensors(paths, pre) for name, paths in inputs.not_chest.items()}
    print(f"{family}: features of {sum(map(len, groups.values()))} images", file=sys.stderr)
    fitted = candidate_features(model, calibration)
    scored = {name: candidate_features(model, x) for name, x in groups.items()}
    columns = [*CATEGORIES, "all non-chest", "held-out chest (not fitted)"]
    lines = [
        "| features | dims | " + " | ".join(columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for key, features in fitted.items():
        summary = fit_model_check(features, ModelCheckConfig(method="knn"))
        if summary is None:
            continue
        shares = {
            name: float(np.mean(_scores(summary, scored[name][key]) > summary.threshold))
            for name in groups
        }
        shares["all non-chest"] = float(np.mean([shares[c] for c in CATEGORIES]))
        cells = [
            f"{shares[c]:.1%}" if c.startswith("held-out") else f"{shares[c]:.0%}" for c in columns
        ]
        label = f"**{key}** (shipped)" if key == _shipped(family) else key
        lines.append(f"| {label} | {features.shape[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scores(summary: object, features: np.ndarray) -> np.ndarray:
    from edgexray.modelcheck import score_features

    return score_features(summary, features)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT / "build" / "synthetic")
    parser.add_argument("--out", type=Path, default=HERE / "FEATURE_TAPS.md")
    parser.add_argument("--family", choices=sorted(MODELS), action="append")
    args = parser.parse_args()
    data = args.data if args.data.is_dir() else None
    parts = [
        "# Model check: which features separate non-chest inputs\n",
        f"`python benchmarks/feature_taps.py`. {measured_on()} Load average "
        f"{os.getloadavg()[0]:.1f}. The Keras models (float); summaries fitted as export fits "
        "the model check (k-NN, 16 PCA components, 99th percentile x 1.1) on the calibration "
        "half of the held-out chests; a cell is the share scored above the threshold by that "
        "feature set alone (no image or appearance check). The held-out column is the parity "
        "half, which the summaries were not fitted on.\n",
    ]
    with tempfile.TemporaryDirectory() as work:
        for family in args.family or sorted(MODELS):
            parts.append(f"## {family}\n\n{measure_family(family, data, Path(work))}\n")
    write_text_atomically(args.out, "\n".join(parts))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
