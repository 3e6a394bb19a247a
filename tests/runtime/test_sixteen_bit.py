"""12-bit data in a 16-bit PNG (edgexray.preprocessing.depth, the `depth` stage): read at its depth
(the sBIT chunk, else the data's range), it decides as its 8-bit equivalent does, and its record says
which policy read it; a 16-bit file whose range spans almost nothing has a refusal of its own."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import opens_of
from PIL import Image, PngImagePlugin

from edgexray import Classifier, ClassifierOptions, demo
from edgexray.preprocessing.depth import png_significant_bits

SAMPLE = demo.samples_folder() / "PNEUMONIA" / "PNEUMONIA_03.png"  # 8-bit grey


def _grey8() -> np.ndarray:
    with Image.open(SAMPLE) as image:
        return np.asarray(image.convert("L"))


def _png16(path: Path, pixels: np.ndarray, sbit: int | None) -> Path:
    info = PngImagePlugin.PngInfo()
    if sbit is not None:
        info.add(b"sBIT", bytes([sbit]))
    Image.fromarray(pixels.astype(np.uint16)).save(path, pnginfo=info)
    return path


def _twelve_bit(grey: np.ndarray) -> np.ndarray:
    return np.rint(grey.astype(np.float64) * 4095 / 255).astype(np.uint16)


@pytest.fixture(scope="module")
def demo_model() -> Path:
    return demo.default_model()


@pytest.mark.parametrize("mode", ["strict", "warn"])
def test_twelve_bit_pngs_decide_as_their_eight_bit_equivalent(demo_model, tmp_path, mode):
    grey = _grey8()
    assert grey.max() > 128  # so that the data's own range needs all 12 bits
    eight = tmp_path / "eight.png"
    Image.fromarray(grey).save(eight)
    declared = _png16(tmp_path / "sbit.png", _twelve_bit(grey), sbit=12)
    undeclared = _png16(tmp_path / "nosbit.png", _twelve_bit(grey), sbit=None)
    with Classifier(demo_model, ClassifierOptions(input_check=mode)) as clf:
        want, *got = clf.predict_batch([eight, declared, undeclared])
    assert want.ok and want.input_check.status == "passed"
    for prediction, policy in zip(got, ("sbit", "data"), strict=True):
        record = prediction.to_record()
        assert "rejected" not in record, record  # not "nearly uniform"
        assert record["label"] == want.label
        assert record["probabilities"] == pytest.approx(want.probabilities, abs=1e-6)
        check = record["input_check"]
        assert check["status"] == "passed"
        assert check["depth"] == {
            "policy": policy,
            "bits": 12,
            "range": [int(_twelve_bit(grey).min()), int(_twelve_bit(grey).max())],
        }


def test_the_policy_is_recorded_with_the_checks_off_and_in_every_output(demo_model, tmp_path):
    grey = _grey8()
    path = _png16(tmp_path / "sbit.png", _twelve_bit(grey), sbit=12)
    done = subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", "classify", "-m", str(demo_model),
         "--input-check", "off", "--format", "jsonl", str(path)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    check = json.loads(done.stdout)["input_check"]
    assert check == {
        "status": "off",
        "depth": {"policy": "sbit", "bits": 12, "range": check["depth"]["range"]},
    }


def test_a_declared_depth_the_data_exceed_gives_way_to_the_data(demo_model, tmp_path):
    pixels = _twelve_bit(_grey8())
    path = _png16(tmp_path / "lying.png", pixels, sbit=10)  # values up to 4095 need 12 bits
    with Classifier(demo_model) as clf:
        check = clf.predict(path).to_record()["input_check"]
    assert check["depth"]["policy"] == "data" and check["depth"]["bits"] == 12
    assert check["depth"]["declared_bits"] == 10


def test_a_sixteen_bit_file_with_almost_no_range_is_refused_for_that(demo_model, tmp_path):
    rng = np.random.default_rng(5)
    faint = rng.integers(1000, 1010, (300, 300)).astype(np.uint16)  # 16-bit depth: 0.04 levels
    path = _png16(tmp_path / "faint.png", faint + 50000, sbit=None)
    with Classifier(demo_model) as clf:
        record = clf.predict(path).to_record()
    assert record["rejected"].startswith("16-bit image spans 0.0 grey levels at its 16-bit depth")
    assert "uniform" not in record["rejected"]
    assert [f["check"] for f in record["input_check"]["findings"]] == ["depth"]


def test_the_sbit_chunk_is_read_from_the_bytes(tmp_path):
    pixels = np.zeros((4, 4), np.uint16)
    for bits in (1, 12, 16):
        data = _png16(tmp_path / f"{bits}.png", pixels, bits).read_bytes()
        assert png_significant_bits(data) == bits
    assert png_significant_bits(_png16(tmp_path / "none.png", pixels, None).read_bytes()) is None
    for invalid in (0, 17):
        assert (
            png_significant_bits(_png16(tmp_path / "bad.png", pixels, invalid).read_bytes()) is None
        )
    assert png_significant_bits(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x05sBIT") is None  # cut short
    jpeg = io.BytesIO()
    Image.new("L", (4, 4)).save(jpeg, "JPEG")
    assert png_significant_bits(jpeg.getvalue()) is None


def test_the_depth_is_read_without_reading_the_file_again(demo_model, tmp_path, monkeypatch):
    path = _png16(tmp_path / "sbit.png", _twelve_bit(_grey8()), sbit=12)
    with Classifier(demo_model) as clf:
        opened = opens_of(monkeypatch, path)
        assert clf.predict(path).to_record()["input_check"]["depth"]["policy"] == "sbit"
    assert len(opened) == 1


def test_the_policy_survives_an_arrow_record(demo_model, tmp_path):
    pytest.importorskip("pyarrow")
    from edgexray.scale.records import records_table, row_to_prediction, row_to_record

    path = _png16(tmp_path / "sbit.png", _twelve_bit(_grey8()), sbit=12)
    with Classifier(demo_model) as clf:
        prediction = clf.predict(path)
    row = records_table([prediction], tuple(prediction.probabilities)).to_pylist()[0]
    assert row_to_record(row) == prediction.to_record()
    assert row_to_prediction(row).input_check.notes == prediction.input_check.notes


def test_twelve_bit_data_in_memory_decide_as_its_file(demo_model, tmp_path):
    """The same 12-bit data as a file, a decoded Pillow image or a uint16 array give the same
    probabilities and the same recorded depth: one reading of 16-bit data whatever hands it over
    (an array used to be scaled as if it filled 16 bits, crushed to 16 grey levels)."""
    twelve = _twelve_bit(_grey8())
    path = _png16(tmp_path / "twelve.png", twelve, None)
    with Image.open(path) as opened:
        opened.load()
        sources = {"file": path, "image": opened.copy(), "array": twelve}
    with Classifier(demo_model, ClassifierOptions(input_check="warn")) as clf:
        decided = {name: clf.predict(source) for name, source in sources.items()}
    for name, prediction in decided.items():
        assert prediction.ok, (name, prediction.error)
        assert prediction.probabilities == decided["file"].probabilities, name
        depth = prediction.to_record()["input_check"]["depth"]
        assert (depth["policy"], depth["bits"]) == ("data", 12), name
