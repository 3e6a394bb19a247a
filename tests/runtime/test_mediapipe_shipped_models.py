"""The shipped fine-tuned .tflite files in MediaPipe's ImageClassifier: it reads their standard TFLite
Metadata (image input, NormalizationOptions, labels.txt in the appended archive beside the card)
and gives the labels and scores edgexray gives (skips where mediapipe is not installed)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from edgexray import Classifier
from edgexray.mediapipe_support import mediapipe_support
from edgexray.modelfile import read_model_file
from edgexray.preprocessing import Preprocessor

REPO = Path(__file__).resolve().parents[2]
FINETUNE = REPO / "models" / "finetune"
SAMPLES = REPO / "models" / "samples" / "three-class"
VARIANTS = ("tflite-fp32", "tflite-int8")


def _samples() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.suffix.lower() in (".png", ".jpg"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_mediapipe_classifies_like_edgexray(variant: str) -> None:
    pytest.importorskip("mediapipe")
    import mediapipe as mp
    from mediapipe.tasks import python as tasks
    from mediapipe.tasks.python import vision

    path = FINETUNE / f"finetune.{variant}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    options = vision.ImageClassifierOptions(
        base_options=tasks.BaseOptions(model_asset_path=str(path)), max_results=-1
    )
    samples = _samples()
    assert len(samples) >= 12
    with Classifier(path) as ours, vision.ImageClassifier.create_from_options(options) as theirs:
        pre = Preprocessor.from_card(ours.card)
        for sample in samples:
            expected = ours.predict(sample)
            # The same pixels edgexray feeds (decoded and resized), as an app hands MediaPipe a frame.
            frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=pre.pixels(sample))
            heads = {h.head_name: h for h in theirs.classify(frame).classifications}
            assert set(heads) == {"probabilities", "features", "class_evidence"}
            scores = {c.category_name: c.score for c in heads["probabilities"].categories}
            assert set(scores) == set(ours.labels)
            assert max(scores, key=lambda k: scores[k]) == expected.label, sample
            for label, probability in expected.probabilities.items():
                assert abs(scores[label] - probability) <= 0.01, (sample, label)


@pytest.mark.parametrize("variant", VARIANTS)
def test_labels_file_sits_in_the_card_archive_and_is_an_entry(variant: str) -> None:
    path = FINETUNE / f"finetune.{variant}.tflite"
    checked = read_model_file(path)
    assert checked.card is not None
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: info for info in archive.infolist()}
        assert archive.read("labels.txt").decode().splitlines() == list(checked.card.labels)
    assert {"edgexray_card.json", "labels.txt"} <= set(members)
    assert all(info.compress_type == zipfile.ZIP_STORED for info in members.values())
    assert checked.entries["labels"] == "".join(f"{label}\n" for label in checked.card.labels)
    assert mediapipe_support(checked.card).runs


def test_the_demo_model_is_said_not_to_run_in_mediapipe() -> None:
    from edgexray.demo import default_model

    card = read_model_file(default_model()).card
    assert card is not None
    support = mediapipe_support(card)
    assert not support.runs
    assert "1-channel input" in support.describe()
