"""What edgexray adds on top of the engine it wraps: interleaved rounds in one process.

    python benchmarks/overhead.py [MODEL.tflite] [--rounds 5] [--calls 100]

Times one preprocessed image through (a) the LiteRT interpreter used by hand, quantizing the input
the same way, and (b) `Classifier.predict_tensor` (engine call, dequantization, probabilities).
Rounds alternate between the two so a busy spell on the machine hits both; medians of round medians.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from edgexray import Classifier, ClassifierOptions
from edgexray.engines.litert import named_outputs
from edgexray.engines.outputs import output_positions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved, median_ms

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models/demo/seed_cnn.tflite-int8.tflite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from ai_edge_litert.interpreter import Interpreter

    classifier = Classifier(args.model, ClassifierOptions(threads=args.threads))
    interpreter = Interpreter(model_path=str(args.model), num_threads=args.threads)
    interpreter.allocate_tensors()
    named = named_outputs(interpreter)  # by name: a features output may be listed first
    given, taken = (
        interpreter.get_input_details()[0],
        list(named.values())[output_positions(list(named))[0]],
    )
    card = classifier.card
    x = np.random.default_rng(0).random(
        (1, card.input_height, card.input_width, card.input_channels), dtype=np.float32
    )
    scale, zero_point = given["quantization"]

    def by_hand(_: int) -> object:
        value = x
        if np.issubdtype(given["dtype"], np.integer) and scale:
            limits = np.iinfo(given["dtype"])
            value = np.clip(np.rint(x / scale) + zero_point, limits.min, limits.max)
        interpreter.set_tensor(given["index"], value.astype(given["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(taken["index"])

    def through_edgexray(_: int) -> object:
        return classifier.predict_tensor(x)

    medians = interleaved(
        {
            "LiteRT by hand": lambda: median_ms(by_hand, args.calls),
            "edgexray predict_tensor": lambda: median_ms(through_edgexray, args.calls),
        },
        args.rounds,
    )
    baseline = medians["LiteRT by hand"]
    print(f"{args.model.name}, {args.threads} threads, {args.rounds} rounds x {args.calls} calls")
    for name, median in medians.items():
        print(f"  {name:<24} {median:.3f} ms  ({median / baseline:.3f}x by hand)")


if __name__ == "__main__":
    main()
