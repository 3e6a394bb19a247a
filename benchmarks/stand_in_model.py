"""A stand-in for the shipped seed CNN, for when models/cnn/ is not built yet:
`python benchmarks/stand_in_model.py IMAGES_DIR OUT_DIR` writes OUT_DIR/seed_cnn.keras.

The seed CNN's architecture (256x256x1, 117,505 parameters) with seeded random weights, its output
layer rescaled so the logits on the given images have mean 0 and standard deviation 2: the outputs
then spread over 0..1 as a trained model's do, which makes quantization parity a real test. It has
learned nothing (about 50% accuracy): it stands in for speed and conversion parity only. Export it
with `edgexray export OUT_DIR/seed_cnn.keras -o OUT_DIR --calibration IMAGES_DIR --labels
NORMAL,PNEUMONIA --normalize unit --allow-degraded`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(images: Path, out: Path) -> Path:
    import keras
    import numpy as np
    from edgexray_export.training.architectures import seed_cnn

    from edgexray.preprocessing import Preprocessor, discover_images

    keras.utils.set_random_seed(7)
    model = seed_cnn(2, (256, 256, 1))
    preprocessor = Preprocessor(256, 256, "grayscale", "unit")
    files = discover_images([images]).files[::8][:50]
    x = np.stack([preprocessor(f) for f in files])
    features = keras.Model(model.inputs, model.get_layer("dense_2").output)(x).numpy()
    head = model.get_layer("Output")
    weights, bias = head.get_weights()
    logits = features @ weights + bias
    scale = 2.0 / (logits.std() + 1e-9)
    head.set_weights([weights * scale, (bias - logits.mean()) * scale])
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "seed_cnn.keras")
    return out / "seed_cnn.keras"


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), Path(sys.argv[2])))
