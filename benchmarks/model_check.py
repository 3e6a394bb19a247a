"""The model check's methods compared, per variant, on the input-check benchmark's images.

    python benchmarks/model_check.py --models DIR... [--work DIR]

For every exported variant with a model check (card schema 2), over the images of
benchmarks/input_check.py (non-chest categories, held-out chest radiographs, bundled samples):
the share refused by the image checks together with the model check, once with each method
the card has a threshold for (Mahalanobis and k-NN; a cosine card has only its own) at that
threshold, and the share of held-out chests the model check alone
refuses. One Markdown table per method on stdout. The features come from the variant's own engine
(the same call as the prediction), scored exactly as the device scores them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from input_check import CATEGORIES, FAMILIES, ROOT, build_inputs, model_files

from edgexray import Classifier, ClassifierOptions
from edgexray.inputcheck import check_image
from edgexray.modelcheck import METHODS, ModelCheckSummary, score_features

_BATCH = 16


def _verdicts(
    classifier: Classifier, summary: ModelCheckSummary, paths: list[Path]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(refused by an image check, {method: model check score}) per image."""
    refused, tensors = [], []
    for path in paths:
        inspected = classifier.preprocessor.inspect(path)
        refused.append(bool(check_image(inspected)))
        tensors.append(classifier.preprocessor.normalize_pixels(inspected.pixels))
    features = np.concatenate(
        [
            classifier.engine.infer(np.stack(tensors[i : i + _BATCH])).features
            for i in range(0, len(tensors), _BATCH)
        ]
    )
    scores = {m: score_features(summary, features, m) for m in summary.thresholds}
    return np.array(refused), scores


def measure(folders: list[Path], work: Path) -> dict[str, list[str]]:
    # The same inputs as benchmarks/input_check.py: per model family, the non-chest set (its turned
    # chests from that family's held-out images), the held-out chests, the bundled samples.
    inputs = build_inputs(work, ROOT / "build" / "synthetic", set(FAMILIES.values()))
    columns = [
        *CATEGORIES,
        "all non-chest",
        "held-out chest: model check (all checks)",
        "bundled samples",
    ]
    header = ["| variant | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    tables = {method: list(header) for method in METHODS}
    for model in model_files(folders, None):
        with Classifier(model, ClassifierOptions(threads=1, decode_workers=0)) as classifier:
            summary = classifier.model_check
            if summary is None:
                print(f"{model.name}: no model check, skipped", file=sys.stderr)
                continue
            mine = inputs[FAMILIES[len(classifier.labels)]]
            per_category = {
                name: _verdicts(classifier, summary, paths)
                for name, paths in mine.not_chest.items()
            }
            chest_image, chest_scores = _verdicts(classifier, summary, mine.chest)
            sample_image, sample_scores = _verdicts(classifier, summary, mine.samples)
        for method, threshold in summary.thresholds.items():
            shares = [
                float(np.mean(image | (scores[method] > threshold)))
                for image, scores in per_category.values()
            ]
            chest_model = chest_scores[method] > threshold
            chest = float(np.mean(chest_model))
            chest_all = float(np.mean(chest_image | chest_model))
            bundled = int(np.sum(sample_image | (sample_scores[method] > threshold)))
            cells = [f"{s:.0%}" for s in shares]
            cells += [f"{np.mean(shares):.0%}", f"{chest:.1%} ({chest_all:.1%})"]
            cells.append(f"{bundled} of {len(mine.samples)}")
            tables[method].append(f"| {model.name} | " + " | ".join(cells) + " |")
            print(method, tables[method][-1], file=sys.stderr)
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None, help="keep the generated images here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        for method, lines in measure(args.models, work).items():
            if len(lines) == 2:  # no card has a threshold for this method
                continue
            print(f"\n{method}\n")
            print("\n".join(lines))


if __name__ == "__main__":
    main()
