"""What a float32 output costs an int8 model: two files, interleaved rounds in one process.

    python benchmarks/int8_output.py NAME.tflite-int8.tflite NAME.tflite-int8-io.tflite \
        [--rounds 7] [--calls 200] [--threads 1]

Times one preprocessed image through `Classifier.predict_tensor` on each file, as a user's code
runs them: `tflite-int8` quantizes its input inside the model and dequantizes before a float
sigmoid/softmax; `tflite-int8-io` takes and gives int8, which the engine quantizes and dequantizes in
numpy. Rounds alternate between the files so a busy spell hits both; medians of round medians.
Export both with `edgexray export MODEL --variants tflite-int8 --int8-io ...`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgexray import Classifier, ClassifierOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved, median_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs=2, type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    classifiers = [Classifier(m, ClassifierOptions(threads=args.threads)) for m in args.models]
    card = classifiers[0].card
    x = np.random.default_rng(0).random(
        (1, card.input_height, card.input_width, card.input_channels), dtype=np.float32
    )

    def measure(classifier: Classifier) -> Callable[[], float]:
        return lambda: median_ms(lambda _: classifier.predict_tensor(x), args.calls)

    rows = {
        model.name: measure(classifier)
        for model, classifier in zip(args.models, classifiers, strict=True)
    }
    medians = interleaved(rows, args.rounds)
    baseline = medians[args.models[1].name]
    print(f"{args.threads} threads, {args.rounds} rounds x {args.calls} calls")
    for name, median in medians.items():
        print(f"  {name:<36} {median:.3f} ms  ({median / baseline:.3f}x {args.models[1].name})")


if __name__ == "__main__":
    main()
