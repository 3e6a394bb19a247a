"""One image, one answer: no variant's probabilities for an image depend on the other images of its
call. Dynamic int8 ONNX models pick one activation scale per call, so engines run them image by
image; every other variant is checked to need no such care."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, tiny_card

from edgexray import Classifier
from edgexray.classifier import ClassifierOptions
from edgexray.engines.batch_independence import onnx_quantizes_per_call
from edgexray.errors import EngineUnavailableError
from edgexray.modelfile import write_card

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "models" / "demo").glob("*.tflite")) + sorted(
    (ROOT / "models" / "demo").glob("*.onnx")
)
SAMPLES = sorted((ROOT / "models" / "samples" / "binary").rglob("*.*"))[::2]


def assert_one_image_one_answer(model: Path, images: np.ndarray) -> None:
    """The first image's probabilities alone, among the other images, and among extreme inputs
    (which widen any per-call activation range) are bit-identical."""
    try:
        classifier = Classifier(model, ClassifierOptions(threads=1, decode_workers=0))
    except EngineUnavailableError:
        pytest.skip(f"no engine for {model.suffix} here")
    with classifier:
        extreme = np.full((3, *images.shape[1:]), 50.0, np.float32)
        extreme[1] = -50.0
        alone = classifier.predict_tensor(images[:1])
        among_others = classifier.predict_tensor(images)[:1]
        among_extremes = classifier.predict_tensor(np.concatenate([images[:1], extreme]))[:1]
        last = classifier.predict_tensor(np.concatenate([extreme, images[:1]]))[-1:]
    for beside in (among_others, among_extremes, last):
        np.testing.assert_array_equal(beside, alone)


@pytest.mark.parametrize("model", SHIPPED, ids=[m.name for m in SHIPPED])
def test_every_shipped_variant_gives_an_image_the_same_answer_whatever_its_companions(
    model: Path,
) -> None:
    with Classifier(model, ClassifierOptions(threads=1, decode_workers=0)) as probe:
        images = np.stack([probe.preprocessor(f) for f in SAMPLES])
    assert_one_image_one_answer(model, images)


@pytest.fixture
def dynamic_onnx(tmp_path: Path) -> Path:
    """The tiny ONNX model quantized as `edgexray export` writes onnx-int8-dynamic."""
    pytest.importorskip("onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = tmp_path / "binary_gray.onnx-int8-dynamic.onnx"
    quantize_dynamic(str(DATA / "binary_gray.onnx"), str(target), weight_type=QuantType.QInt8)
    write_card(target, tiny_card("binary_gray.onnx", variant="onnx-int8-dynamic"))
    return target


def test_a_dynamically_quantized_model_runs_image_by_image(dynamic_onnx: Path) -> None:
    assert onnx_quantizes_per_call(dynamic_onnx)
    images = np.random.default_rng(0).uniform(0, 1, (6, 16, 16, 1)).astype(np.float32)
    assert_one_image_one_answer(dynamic_onnx, images)


def test_per_call_quantization_is_found_in_files_and_bytes(tmp_path: Path) -> None:
    plain = tmp_path / "plain.onnx"
    shutil.copy(DATA / "binary_gray.onnx", plain)
    assert not onnx_quantizes_per_call(plain)
    assert not onnx_quantizes_per_call(plain.read_bytes())
    quantized = b"\x08\x01" + b"DynamicQuantizeLinear" + b"\x00"
    assert onnx_quantizes_per_call(quantized)
    assert onnx_quantizes_per_call(memoryview(quantized)[1:])  # the engines get views too
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert not onnx_quantizes_per_call(empty)
