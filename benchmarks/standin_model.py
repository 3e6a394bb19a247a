"""Build the real-size stand-in model for the quantization figures (issue 17).

    python benchmarks/standin_model.py [--data build/synthetic/binary] [--out build/standin]
        [--weights none|imagenet|PATH] [--epochs 8]

The issue's reference model is a third-party Xception fine-tuned for pneumonia (150x150 RGB, two
classes), whose int8 variants moved probabilities by up to 0.15. We cannot download it or ImageNet
weights here, so the stand-in is a `keras.applications` backbone of the same kind (BatchNorm,
depthwise convolutions: what makes int8 hard) at full width: MobileNetV2 alpha 1.0 at 160x160 RGB,
2.26 M backbone parameters (the shipped fine-tuned model is alpha 0.35, 0.41 M), with a pooling +
sigmoid head, trained from scratch for a few minutes on the synthetic binary set. Xception itself
(20.8 M parameters, ~2 G multiply-adds at 150x150) would take hours to train on 2 shared cores.

`--weights PATH` loads backbone weights from a file (`keras.applications` `weights=PATH`), the same
path as `edgexray train finetune --weights PATH`, so a real pretrained backbone can be used where
one is at hand.

Writes OUT/standin.keras (+ history, training info) and OUT/README.txt, which names the
calibration/parity folder to export it with: the validation and test images of the same split
(seed 2026, 15%/15%), i.e. build/synthetic/held-out-cnn when the data comes from
`python -m edgexray_export.rebuild`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgexray_export.data.folders import SplitConfig, scan_folder
from edgexray_export.training.architectures import BackboneWeights, FinetuneSpec
from edgexray_export.training.train import FinetuneConfig, FitConfig, RunConfig, train_finetune

from edgexray.atomic import write_text_atomically

SEED = 2026
SIDE = 160
ALPHA = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/build/synthetic/binary"))
    parser.add_argument("--held-out", type=Path, default=Path("/work/build/synthetic/held-out-cnn"))
    parser.add_argument("--out", type=Path, default=Path("/work/build/standin"))
    parser.add_argument("--weights", default="none", help="none, imagenet or a weights file")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    data = scan_folder(args.data, SplitConfig(0.15, 0.15, SEED))
    config = FinetuneConfig(
        spec=FinetuneSpec(SIDE, SIDE, ALPHA),
        weights=BackboneWeights(args.weights),
        head=FitConfig(args.epochs, 32, 1e-3, 3),
        fine_tune_layers=0,
    )
    model_path = args.out / "standin.keras"
    result = train_finetune(data, model_path, config, RunConfig(SEED))
    write_text_atomically(
        args.out / "README.txt",
        f"""Stand-in real-size model for issue 17 (built by benchmarks/standin_model.py).

model:        {model_path}  (MobileNetV2 alpha {ALPHA}, {SIDE}x{SIDE} RGB, sigmoid head,
              weights {args.weights}, {result.epochs_run} epochs, {result.seconds:.0f} s,
              threshold {result.threshold})
trained on:   {args.data} (train split, seed {SEED}, val/test 15%/15%)
calibration and parity images (the val+test split, never trained on):
              {args.held_out}
export:       edgexray export {model_path} --calibration {args.held_out} \\
                  --calibration-size 480 -o /tmp/standin-export --variants tflite-int8
""",
    )
    print(f"wrote {model_path} and {args.out / 'README.txt'}")


if __name__ == "__main__":
    main()
