"""The classify and info commands through click's CliRunner, with the tiny models."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edgexray import exit_codes
from edgexray.cli.main import cli


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    for cls, value in (("NORMAL", 30), ("PNEUMONIA", 220)):
        (folder / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (32, 24), value + i).save(folder / cls / f"{i}.png")
    return folder


def run(*args: str):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def test_jsonl_records_have_probabilities_per_class(carded, images):
    result = run("classify", "-m", carded("binary_gray.tflite"), "--format", "jsonl", images)
    assert result.exit_code == exit_codes.OK
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"].split("images/")[1] for r in records] == [
        "NORMAL/0.png",
        "NORMAL/1.png",
        "PNEUMONIA/0.png",
        "PNEUMONIA/1.png",
    ]
    for r in records:
        assert set(r["probabilities"]) == {"NORMAL", "PNEUMONIA"}
        assert r["confidence"] == pytest.approx(r["probabilities"][r["label"]])
        assert sum(r["probabilities"].values()) == pytest.approx(1.0)
    assert re.search(
        r"4 classified, 0 failed in \d+\.\d\d s \(\d+\.\d ms per image\)$", result.stderr
    )


def test_csv_has_p_columns_and_an_error_row(carded, images):
    (images / "NORMAL" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = run("classify", "-m", carded("three_rgb.onnx"), "--format", "csv", images)
    assert result.exit_code == exit_codes.PARTIAL
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "path",
        "label",
        "confidence",
        "p_COVID",
        "p_NORMAL",
        "p_PNEUMONIA",
        "error",
        "input_check",
        "source",
    ]
    assert len(rows) == 5
    broken = [r for r in rows if r["error"]]
    assert len(broken) == 1 and "broken.png" in broken[0]["error"] and broken[0]["label"] == ""
    good = [r for r in rows if not r["error"]]
    assert all(r["label"] in ("COVID", "NORMAL", "PNEUMONIA") for r in good)
    assert "4 classified, 1 failed" in result.stderr


def test_json_to_file_is_one_complete_document(carded, images, tmp_path):
    out = tmp_path / "results.json"
    result = run(
        "classify",
        "-m",
        carded("binary_gray.onnx"),
        "--format",
        "json",
        "-o",
        out,
        images,
        tmp_path / "nope",
    )
    assert result.exit_code == exit_codes.PARTIAL
    data = json.loads(out.read_text())
    assert len(data) == 5
    assert data[0]["error"].endswith("no such file or folder")
    assert not list(tmp_path.glob(".results.json.*"))  # temporary file renamed away


def test_table_output(carded, images):
    result = run("classify", "-m", carded("binary_gray.tflite"), images / "NORMAL")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["label", "confidence", "NORMAL", "PNEUMONIA", "path"]
    assert len(lines) == 3 and lines[1].split()[0] in ("NORMAL", "PNEUMONIA")


def test_table_columns_stay_aligned_whatever_the_path_length(carded, images):
    deep = images / ("a-long-folder-name-" * 6) / ("and-a-longer-one-" * 5)
    deep.mkdir(parents=True)
    Image.new("L", (32, 24), 90).save(deep / "scan.png")
    (images / "broken.png").write_bytes(b"not an image")
    result = run("classify", "-m", carded("three_rgb.onnx"), "--format", "table", images)
    header, *rows = result.stdout.splitlines()
    assert len(rows) == 6 and any(len(row) > 200 for row in rows)

    def cell_ends(line: str, path: str) -> tuple[int, list[int]]:
        """Where the path cell starts, and where every other cell before any message ends."""
        start = line.index(path)
        masked = line[:start] + " " * len(path) + line[start + len(path) :]
        return start, [m.end() for m in re.finditer(r"\S+", masked)][:5]

    titles = cell_ends(header, "path")
    for row in rows:
        path = re.search(re.escape(str(images)) + r"\S*\.png", row)
        assert path is not None, row
        if "broken.png" in row:
            assert "ERROR: " in row and "not an image" in row
            assert cell_ends(row, path[0])[0] == titles[0], (header, row)
            continue
        # label, confidence, one probability per class and the path: where the header has them
        assert cell_ends(row, path[0]) == titles, (header, row)


def test_exit_codes_for_usage_and_fatal_errors(tmp_path, images):
    assert run("classify", "--format", "xml", images).exit_code == exit_codes.USAGE
    missing = CliRunner().invoke(
        cli, ["classify", "-m", str(tmp_path / "none.tflite"), str(images)]
    )
    # Through the real entry point the error is one line and exit code 1 (see test_entry_point).
    assert missing.exit_code != 0


def test_cardless_model_from_flags(images):
    from conftest import DATA, runnable

    result = run(
        "classify",
        "-m",
        DATA / runnable("binary_gray.onnx"),
        "--labels",
        "NORMAL,PNEUMONIA",
        "--normalize",
        "unit",
        "--format",
        "jsonl",
        images,
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[0])["probabilities"].keys() == {
        "NORMAL",
        "PNEUMONIA",
    }
    bad = CliRunner().invoke(
        cli, ["classify", "-m", str(DATA / "binary_gray.onnx"), "--labels", "ONE"]
    )
    assert bad.exit_code == exit_codes.USAGE and "at least two" in bad.output


def test_info_prints_the_card(carded):
    path = carded("three_rgb.onnx", threshold=None)
    result = run("info", "--json", path)
    assert json.loads(result.stdout)["labels"] == ["COVID", "NORMAL", "PNEUMONIA"]
    human = run("info", path).stdout
    assert "labels: COVID, NORMAL, PNEUMONIA" in human and "normalize: unit" in human


@pytest.mark.parametrize("workers", ["0", "2"])
def test_reducing_gap_and_decode_workers_reach_the_classifier(carded, tmp_path, workers):
    from edgexray import Classifier, ClassifierOptions

    folder = tmp_path / "large"
    folder.mkdir()
    y, x = [a.astype(float) for a in np.mgrid[0:1024, 0:1024]]
    for i in range(3):
        pixels = 128 + 100 * np.sin(x / (40 + 10 * i)) * np.cos(y / 60)
        Image.fromarray(pixels.astype(np.uint8), "L").save(folder / f"{i}.jpg", quality=90)
    model = carded("binary_gray.tflite")
    result = run(
        "classify", "-m", model, "--reducing-gap", "2", "--decode-workers", workers,
        "--format", "jsonl", folder,
    )  # fmt: skip
    assert result.exit_code == exit_codes.OK
    got = [json.loads(line)["probabilities"] for line in result.stdout.splitlines()]
    files = sorted(folder.iterdir())
    fast = Classifier(model, ClassifierOptions(reducing_gap=2.0, input_check="off")).predict_batch(
        files
    )
    exact = Classifier(model, ClassifierOptions(input_check="off")).predict_batch(files)
    assert got == [pytest.approx(p.probabilities, abs=1e-6) for p in fast]
    assert got != [pytest.approx(p.probabilities, abs=1e-6) for p in exact]


def test_a_reducing_gap_below_one_is_a_usage_error(images):
    result = run("classify", "--reducing-gap", "0.5", images)
    assert result.exit_code == exit_codes.USAGE
    assert "--reducing-gap" in result.output
