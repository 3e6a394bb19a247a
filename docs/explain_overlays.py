"""Regenerate the overlays shown in the README (docs/explain/*.png) from the bundled samples.

    python docs/explain_overlays.py

Each sample is explained by the shipped int8 TFLite variant of the model it belongs to (the demo
seed CNN for the binary set, the fine-tuned MobileNetV2 for the three-class set), as on a device;
the overlays are written at 256 px on the long side, small enough to commit.
"""

from __future__ import annotations

from pathlib import Path

from edgexray import Classifier
from edgexray.explain import OcclusionConfig, explain

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs/explain"
SIDE = 256
# (model, classes, occlusion mode): the three-class model with `both`, which also shows COVID.
SETS = {
    "binary": ("models/demo/seed_cnn.tflite-int8.tflite", ("PNEUMONIA",), "keep"),
    "three-class": (
        "models/finetune/finetune.tflite-int8.tflite",
        ("PNEUMONIA", "COVID"),
        "both",
    ),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for set_name, (model, classes, mode) in SETS.items():
        config = OcclusionConfig(mode=mode)
        with Classifier(ROOT / model) as clf:
            for class_name in classes:
                for path in sorted((ROOT / "models/samples" / set_name / class_name).iterdir()):
                    explanation = explain(clf, path, config=config, display_side=SIDE)
                    target = OUT / f"{set_name}-{path.stem}.png"
                    explanation.overlay.save(target, optimize=True)
                    print(target.relative_to(ROOT), explanation.prediction.label)


if __name__ == "__main__":
    main()
