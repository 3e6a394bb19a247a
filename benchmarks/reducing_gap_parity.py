"""What the two-step resize (`reducing_gap`) costs in agreement with the full model.

    python benchmarks/reducing_gap_parity.py MODEL.keras VARIANT DATA_DIR [--gap 2.0]

DATA_DIR holds one folder per class (images of any size and format). The full Keras model on
images resized in one step, as in training, is the reference. The script reports, per file format
and over all files, the top-1 agreement with that reference and the accuracy of:
the variant with the one-step resize (the export parity figure), the variant with the two-step
resize, and the Keras model itself with the two-step resize (the effect of the resize alone); and
how far the two-step pixels are from the one-step ones.
Needs the [export] extra (TensorFlow) for the Keras model.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from edgexray import Classifier, ClassifierOptions
from edgexray.postprocess import decide, to_probabilities
from edgexray.preprocessing import discover_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keras_model", type=Path)
    parser.add_argument("variant", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--gap", type=float, default=2.0)
    args = parser.parse_args()

    import keras

    exact = Classifier(args.variant)
    fast = Classifier(args.variant, ClassifierOptions(reducing_gap=args.gap))
    card = exact.card
    files = discover_images([args.data]).files
    truth = np.array([card.labels.index(Path(f).parent.name) for f in files])
    model = keras.saving.load_model(args.keras_model, compile=False)

    def keras_labels(preprocess: Classifier) -> tuple[np.ndarray, np.ndarray]:
        tensors = np.stack([preprocess.preprocessor(f) for f in files])
        raw = np.asarray(model.predict(tensors, batch_size=32, verbose=0), dtype=np.float32)
        probabilities = to_probabilities(raw.reshape(len(files), -1), card)
        return decide(probabilities, card), probabilities

    def variant_labels(classifier: Classifier) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.stack(
            [
                [p.probabilities[label] for label in card.labels]
                for p in classifier.predict_batch(files)
            ]
        )
        return decide(probabilities, card), probabilities

    # How far the two-step pixels are from the one-step ones, in grey levels (0..255).
    pixel_diffs = [
        np.abs(
            fast.preprocessor.pixels(f).astype(np.int16)
            - exact.preprocessor.pixels(f).astype(np.int16)
        )
        for f in files
    ]
    reference, reference_p = keras_labels(exact)
    rows = {
        f"{args.variant.name}, one-step resize": variant_labels(exact),
        f"{args.variant.name}, reducing_gap {args.gap:g}": variant_labels(fast),
        f"{args.keras_model.name}, reducing_gap {args.gap:g}": keras_labels(fast),
    }
    suffixes = np.array([Path(f).suffix.lower() for f in files])
    groups = {f"{s} files": suffixes == s for s in sorted(set(suffixes))}
    groups["all files"] = np.ones(len(files), dtype=bool)
    print(f"reference: {args.keras_model.name} with the one-step resize; {len(files)} images")
    print(f"accuracy of the reference: {np.mean(reference == truth):.2%}")
    print(f"\npixels, reducing_gap {args.gap:g} vs one step (grey levels of 255)")
    for group, mask in groups.items():
        chosen = [d for d, keep in zip(pixel_diffs, mask, strict=True) if keep]
        print(
            f"  {group:<12} mean |d| {np.mean([d.mean() for d in chosen]):.3f}  "
            f"max |d| {max(int(d.max()) for d in chosen)}"
        )
    for name, (labels, probabilities) in rows.items():
        print(f"\n{name}")
        for group, mask in groups.items():
            agree = np.mean(labels[mask] == reference[mask])
            flips = int(np.sum(labels[mask] != reference[mask]))
            worst = float(np.max(np.abs(probabilities[mask] - reference_p[mask])))
            print(
                f"  {group:<12} n={int(mask.sum()):4d}  agreement {agree:7.2%} ({flips} flips)  "
                f"accuracy {np.mean(labels[mask] == truth[mask]):7.2%}  max |dp| {worst:.3f}"
            )


if __name__ == "__main__":
    main()
