"""MediaPipe's own ImageClassifier runs .tflite files exported by edgexray: a tiny three-class RGB
model goes through the real export pipeline, and MediaPipe's tflite-fp32 and tflite-int8 results
on the bundled samples and on generated colour images match edgexray's Classifier on the same file
(the same top label, every score within 0.01).

This proves the TFLite Metadata the export writes (image input, NormalizationOptions, labels.txt
in the container), not the shipped models: the shipped demo model is 1-channel, which MediaPipe
refuses, and the shipped fine-tuned model was exported before the metadata existed (re-export it).
MediaPipe is built for x86-64 only; elsewhere the test is skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
try:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
except ImportError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(
        f"mediapipe is not importable ({exc}); it is built for x86-64 only",
        allow_module_level=True,
    )
import keras
from edgexray_export.pipeline import export_model
from PIL import Image
from synthetic import CLASSES, fit_briefly, write_folder

from edgexray import Classifier, ClassifierOptions

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

SIDE = 32
SAMPLES = Path(__file__).parents[2] / "models" / "samples" / "three-class"
VARIANTS = ("tflite-fp32", "tflite-int8")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny 32x32x3 softmax CNN (no Rescaling: normalize "unit", mean 0 std 255 for MediaPipe),
    exported as tflite-fp32 and tflite-int8 by the real pipeline."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 3)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    fit_briefly(model, CLASSES, 3, "sparse_categorical_crossentropy", epochs=8)
    folder = tmp_path_factory.mktemp("mediapipe")
    path = folder / "rgb.keras"
    model.save(path)
    calibration = write_folder(folder / "calibration", CLASSES, 12, seed=5)
    report = export_model(
        path,
        folder / "out",
        calibration_dir=calibration,
        variants=list(VARIANTS),
        normalize="unit",  # no Rescaling layer: export needs it stated (never guessed)
        allow_degraded=True,
    )
    return {variant: report.result(variant).path for variant in VARIANTS}


def _images() -> list[tuple[str, np.ndarray]]:
    """uint8 (SIDE, SIDE, 3) RGB arrays at the model's input size, so neither side resizes: the
    bundled samples (grey films made RGB) and generated colour images whose channels differ."""
    images = []
    for path in sorted(SAMPLES.glob("*/*"))[::3]:
        with Image.open(path) as image:
            small = image.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
        images.append((path.name, np.asarray(small, dtype=np.uint8)))
    rng = np.random.default_rng(7)
    for i in range(3):
        images.append((f"colour-{i}", rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)))
    return images


def _mediapipe_scores(path: Path, array: np.ndarray) -> dict[str, float]:
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)))
    with vision.ImageClassifier.create_from_options(options) as classifier:
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(array))
        result = classifier.classify(image)
    heads = {c.head_name: c for c in result.classifications}
    # The model's head (pooling into one Dense) gives class evidence: one more head, named as such.
    assert set(heads) == {"probabilities", "features", "class_evidence"}, sorted(heads)
    return {c.category_name: c.score for c in heads["probabilities"].categories}


@pytest.mark.parametrize("variant", VARIANTS)
def test_mediapipe_matches_edgexray(exported: dict[str, Path], variant: str) -> None:
    path = exported[variant]
    images = _images()
    assert len(images) >= 5
    with Classifier(path, ClassifierOptions(input_check="off")) as classifier:
        assert classifier.card.input_channels == 3 and classifier.card.normalize == "unit"
        for name, array in images:
            ours = classifier.predict(array)
            theirs = _mediapipe_scores(path, array)
            assert set(theirs) == set(CLASSES), (variant, name, theirs)
            assert max(theirs, key=theirs.__getitem__) == ours.label, (variant, name, theirs, ours)
            for label in CLASSES:
                assert abs(theirs[label] - ours.probabilities[label]) <= 0.01, (
                    variant,
                    name,
                    label,
                    theirs,
                    ours.probabilities,
                )
