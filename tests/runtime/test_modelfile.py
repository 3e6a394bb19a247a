"""Cards embedded in model files: read back from the file alone, engines still load, tampering caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, tiny_card

from edgexray import Classifier
from edgexray.demo import bundled_root
from edgexray.errors import CardError, ModelError
from edgexray.modelfile import (
    check_model_bytes,
    read_card,
    read_embedded_card,
    sidecar_path,
    write_card,
)

MODELS = ["binary_gray.tflite", "binary_gray.int8.tflite", "three_rgb.onnx", "logits_gray.onnx"]


@pytest.mark.parametrize("filename", MODELS)
def test_card_round_trip_from_the_file_alone(tmp_path, filename):
    path = tmp_path / filename
    shutil.copy(DATA / filename, path)
    written = write_card(path, tiny_card(filename, variant="test", threshold=None))
    sidecar_path(path).unlink()  # the file alone must be enough
    assert read_card(path) == written
    original = (DATA / filename).read_bytes()
    payload, card = read_embedded_card(path)
    assert payload == original  # the card is cleanly separable from the model bytes
    assert card.payload_size == len(original)


@pytest.mark.parametrize("filename", MODELS)
def test_engines_still_load_files_with_a_card(carded, tiny_reference, filename):
    name = filename.split(".")[0]
    with Classifier(carded(filename)) as clf:
        raw = clf.engine.run(tiny_reference[f"{name}_x"])
    tolerance = 0.02 if "int8" in filename else 1e-5
    np.testing.assert_allclose(raw, tiny_reference[f"{name}_y"], atol=tolerance)


def test_rewriting_replaces_the_card(carded):
    path = carded("three_rgb.onnx")
    write_card(path, tiny_card("three_rgb", variant="second"))
    assert read_card(path).variant == "second"
    assert path.read_bytes().count(b"edgexray.card") == 1


def test_onnx_runtime_sees_the_card_in_metadata_props(carded):
    ort = pytest.importorskip("onnxruntime")
    path = carded("three_rgb.onnx")
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert json.loads(meta.custom_metadata_map["edgexray.card"])["labels"] == [
        "COVID",
        "NORMAL",
        "PNEUMONIA",
    ]


def test_sidecar_is_readable_json_and_used_for_a_plain_model(tmp_path):
    path = tmp_path / "m.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    write_card(path, tiny_card("binary_gray"))
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar["labels"] == ["NORMAL", "PNEUMONIA"]
    shutil.copy(DATA / "binary_gray.tflite", path)  # back to the plain model, sidecar stays
    assert read_card(path).labels == ("NORMAL", "PNEUMONIA")


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("filename", ["binary_gray.tflite", "three_rgb.onnx"])
def test_a_changed_model_no_longer_matches_its_card(carded, filename):
    path = carded(filename)
    _flip_byte(path, len((DATA / filename).read_bytes()) // 2)  # inside the weights
    with pytest.raises(ModelError, match="SHA-256 of the model does not match"):
        read_card(path)


def test_truncated_and_bogus_model_files(tmp_path):
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes((DATA / "three_rgb.onnx").read_bytes()[:500])
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        read_card(truncated)
    text = tmp_path / "notes.tflite"
    text.write_text("this is not a model")
    with pytest.raises(ModelError, match="not a valid TFLITE model"):
        read_card(text)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        read_card(empty)
    with pytest.raises(ModelError, match="not found"):
        read_card(tmp_path / "missing.tflite")
    other = tmp_path / "model.pt"
    other.write_bytes(b"\x00" * 10)
    with pytest.raises(ModelError, match="unknown model file type"):
        read_card(other)


def test_a_broken_embedded_card_is_a_card_error(tmp_path):
    from edgexray.modelfile.onnx_format import ONNXCardFormat

    path = tmp_path / "m.onnx"
    path.write_bytes(
        ONNXCardFormat().join((DATA / "three_rgb.onnx").read_bytes(), {"card": '{"labels": 1}'})
    )
    with pytest.raises(CardError, match="schema_version"):
        read_card(path)


def test_written_files_get_normal_permissions(carded):
    import os

    path = carded("binary_gray.tflite")
    umask = os.umask(0)
    os.umask(umask)
    for written in (path, sidecar_path(path)):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask


# A model file cut short without a card (the card is appended at the end, so cutting the file drops
# it): `info` must not take it for a plain model without a card. ----------------------------------

# The demo models where this edgexray has them (the wheel's, or the checkout's models/ folder).
BUNDLED = bundled_root()
SAMPLE = BUNDLED / "samples" / "binary" / "NORMAL" / "NORMAL_02.png"


@pytest.mark.parametrize(
    ("model", "kept"),
    [
        ("demo/seed_cnn.tflite-int8.tflite", 0.5),  # the file, cut in half
        ("demo/seed_cnn.tflite-fp32.tflite", 0.5),  # weights first, graph last
        ("demo/seed_cnn.tflite-fp32.tflite", 0.85),  # cut in the graph, the card archive gone
        ("demo/seed_cnn.tflite-fp32.tflite", 0.99),  # cut in the card archive
        ("demo/seed_cnn.onnx-int8.onnx", 0.5),
    ],
)
def test_info_says_what_classify_says_of_a_model_cut_short(tmp_path, model, kept):
    from conftest import run_edgexray

    data = (BUNDLED / model).read_bytes()
    cut = tmp_path / Path(model).name  # alone: no JSON sidecar beside it
    cut.write_bytes(data[: int(len(data) * kept)])
    info = run_edgexray("info", str(cut))
    classify = run_edgexray("classify", "-m", str(cut), str(SAMPLE))
    assert info.returncode == classify.returncode == 1
    assert info.stderr == classify.stderr
    message = info.stderr.strip()
    assert message.startswith(f"edgexray: error: {cut}: ")
    assert "the file was cut short" in message and "--labels" not in message
    assert len(message.splitlines()) == 1


def test_every_cut_of_a_plain_tflite_is_refused_and_the_whole_file_is_not():
    data = (DATA / "quadrant.int8.tflite").read_bytes()
    assert check_model_bytes(Path("m.tflite"), data).card is None  # whole: a plain model
    for cut in range(8, len(data)):
        with pytest.raises(ModelError, match="the file was cut short"):
            check_model_bytes(Path("m.tflite"), data[:cut])
