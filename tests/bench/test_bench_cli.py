"""`edgexray bench` end to end on the tiny committed models (cards written on copies).

Each model is measured in its own child process; --runs 3 keeps this fast. No timing thresholds:
the figures' presence, shape and the parity/accuracy arithmetic are checked.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bench_images import labelled_noise_images
from click.testing import CliRunner
from conftest import skip_unless_an_engine_reads

from edgexray import exit_codes
from edgexray.card import ModelCard
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.cli.main import cli, main
from edgexray.modelfile import write_card
from edgexray.reference import Reference, ReferenceImage, file_sha256, write_reference

LABELS = ("NORMAL", "PNEUMONIA")
TEST_DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return labelled_noise_images(tmp_path / "data", LABELS, 5, (24, 20), seed=3)


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    """Copies of the tiny committed binary model, each with the card export would give it."""
    card = ModelCard(LABELS, "binary", 16, 16, 1, "unit", name="tiny")
    folder = tmp_path / "models"
    folder.mkdir()
    made = []
    sources = (
        ("binary_gray.tflite", "tflite-fp32"),
        ("binary_gray.onnx", "onnx-fp32"),
        ("binary_gray.int8.tflite", "tflite-int8"),
    )
    skip_unless_an_engine_reads(*(source for source, _ in sources))
    for source, variant in sources:
        target = folder / f"tiny.{variant}{Path(source).suffix}"
        shutil.copy(TEST_DATA / source, target)
        write_card(target, card.replace(variant=variant))
        made.append(target)
    return made


def files_of(data: Path) -> list[Path]:
    return sorted(data.rglob("*.png"))


def save_reference_from(model: Path, data: Path) -> Path:
    """What `edgexray export` would save, computed here with the fp32 model itself."""
    files = files_of(data)
    with Classifier(model, ClassifierOptions(input_check="off")) as clf:
        probabilities = clf.predict_tensor(np.stack([clf.preprocessor(f) for f in files]))
    images = tuple(
        ReferenceImage(str(f.relative_to(data)), file_sha256(f), f.parent.name) for f in files
    )
    reference = Reference(LABELS, images, probabilities.astype(np.float64))
    return write_reference(model.parent / "tiny.reference.json", reference)


def expected_accuracy(model: Path, data: Path) -> float:
    files = files_of(data)
    with Classifier(model, ClassifierOptions(input_check="off")) as clf:
        predicted = [clf.predict(f).label for f in files]
    return float(
        np.mean([label == f.parent.name for label, f in zip(predicted, files, strict=True)])
    )


def test_bench_reports_every_variant_with_parity_from_the_reference_beside_them(
    models: list[Path], data: Path, tmp_path: Path
) -> None:
    save_reference_from(models[0], data)
    out = tmp_path / "bench.json"
    args = ["bench", "--data", str(data), "--runs", "3", "--warmup", "1", "--threads", "1"]
    args += ["--batch-sizes", "1,4", "--json", str(out), "--markdown", str(tmp_path / "b.md")]
    plot = tmp_path / "plot.png"
    if importlib.util.find_spec("matplotlib"):
        args += ["--plot", str(plot)]
    for model in models:
        args += ["-m", str(model)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == 1 and report["machine"]["cpu_model"]
    assert report["data"] == {
        "folder": str(data),
        "images": 10,
        "labelled": True,
        "labels": list(LABELS),
    }
    assert report["comparison"]["images"] == 10
    assert report["comparison"]["source"].endswith("tiny.reference.json")
    rows = {row["name"]: row for row in report["results"]}
    assert list(rows) == ["tflite-fp32", "onnx-fp32", "tflite-int8"]
    for model, row in zip(models, report["results"], strict=True):
        assert row["path"] == str(model) and row["size_bytes"] == model.stat().st_size
        assert row["error"] is None
        assert row["latency_ms"]["count"] == 3
        assert row["latency_ms"]["p50"] <= row["latency_ms"]["p90"] <= row["latency_ms"]["p99"]
        assert row["end_to_end_ms"]["count"] == 3
        assert set(row["throughput_ips"]) == {"1", "4"} and all(
            v > 0 for v in row["throughput_ips"].values()
        )
        assert row["load_ms"] > 0 and row["first_inference_ms"] > 0 and row["peak_rss_mb"] > 10
        assert row["parity_images"] == 10
        assert row["accuracy"] == pytest.approx(expected_accuracy(model, data))
        assert sum(map(sum, row["metrics"]["confusion_matrix"])) == 10
    assert rows["tflite-fp32"]["format"] == "tflite" and rows["onnx-fp32"]["format"] == "onnx"
    assert rows["tflite-fp32"]["engine"] == "edgexray/litert"
    assert rows["tflite-fp32"]["agreement"] == 1.0 and rows["tflite-fp32"]["max_abs_diff"] < 1e-6
    assert rows["onnx-fp32"]["agreement"] == 1.0 and rows["onnx-fp32"]["max_abs_diff"] < 1e-4
    assert 0.0 <= rows["tflite-int8"]["agreement"] <= 1.0
    assert 0.0 < rows["tflite-int8"]["max_abs_diff"] < 0.1  # int8 rounding shows, but small
    assert "tflite-int8" in result.output
    assert "| tflite-fp32 | tflite |" in (tmp_path / "b.md").read_text()
    if importlib.util.find_spec("matplotlib"):
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_reference_agreement_is_null_and_said_so(
    models: list[Path], data: Path, tmp_path: Path
) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, f in enumerate(files_of(data)[:3]):
        (flat / f"{i}.png").write_bytes(f.read_bytes())
    out = tmp_path / "bench.json"
    args = ["bench", "-m", str(models[0]), "--data", str(flat), "--runs", "3", "--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["results"]
    assert row["agreement"] is None and row["accuracy"] is None and row["metrics"] is None
    assert "agreement not measured" in result.output


def test_without_a_model_bench_measures_the_bundled_demo_model_as_classify_does(
    tmp_path: Path,
) -> None:
    import edgexray

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(edgexray.demo.sample_images()[0], data / "one.png")
    out = tmp_path / "bench.json"
    args = ["bench", "--data", str(data), "--runs", "1", "--warmup", "0", "--batch-sizes", "1"]
    result = CliRunner().invoke(cli, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["results"]
    assert row["name"] in edgexray.demo.model_path().name  # e.g. tflite-int8 of seed_cnn
    assert "using the demo model" in result.output


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    return int(stop.value.code or 0), capsys.readouterr().err


def test_missing_model_is_one_line_and_fatal(data: Path, tmp_path: Path, capsys) -> None:
    code, err = run_main(
        ["bench", "-m", str(tmp_path / "nope.tflite"), "--data", str(data)], capsys
    )
    assert code == exit_codes.FATAL
    assert err.strip().count("\n") == 0 and "model file not found" in err


def test_data_folder_without_images_is_one_line_and_fatal(models, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run_main(["bench", "-m", str(models[0]), "--data", str(empty)], capsys)
    assert code == exit_codes.FATAL and "no images found" in err and "Traceback" not in err


def test_keras_without_tensorflow_is_one_line_and_fatal(
    models, data: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorflow" else real(name, *a),
    )
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"not used")
    argv = ["bench", "-m", str(models[0]), "--data", str(data), "--keras", str(keras_file)]
    code, err = run_main(argv, capsys)
    assert code == exit_codes.FATAL and "needs TensorFlow" in err and err.count("\n") == 1


def test_a_model_that_cannot_be_measured_is_a_failed_row_and_exit_partial(
    models, data: Path, tmp_path: Path, capsys
) -> None:
    broken = tmp_path / "wrong_size.onnx"
    shutil.copy(models[1], broken)
    # A readable model whose card disagrees with its tensors: refused when the child loads it.
    card = ModelCard(LABELS, "binary", 32, 32, 1, "unit", name="tiny", variant="wrong-size")
    write_card(broken, card)
    argv = ["bench", "-m", str(models[0]), "-m", str(broken), "--data", str(data), "--runs", "2"]
    argv += ["--json", str(tmp_path / "b.json")]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == exit_codes.PARTIAL
    rows = json.loads((tmp_path / "b.json").read_text())["results"]
    assert rows[0]["error"] is None
    assert "card says input 32x32x1" in rows[1]["error"] and rows[1]["latency_ms"] is None
    assert "wrong-size" in capsys.readouterr().out


def test_without_a_reference_for_these_images_the_fp32_variant_stands_in_in_every_output(
    models: list[Path], data: Path, tmp_path: Path
) -> None:
    # A device benching its own images: the reference beside the models holds none of them.
    elsewhere = labelled_noise_images(tmp_path / "export-images", LABELS, 2, (24, 20), seed=9)
    save_reference_from(models[0], elsewhere)
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    args = ["bench", "--data", str(data), "--runs", "2", "--warmup", "0", "--batch-sizes", "1"]
    args += ["--json", str(out), "--markdown", str(md), "--recommend", "0.5"]
    for model in (models[2], models[0], models[1]):  # int8 first; of two fp32, the first given
        args += ["-m", str(model)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["comparison"]["against"] == "tflite-fp32" and report["comparison"]["stand_in"]
    assert report["comparison"]["source"] == str(models[0])
    rows = {row["name"]: row for row in report["results"]}
    assert {row["agreement_vs"] for row in rows.values()} == {"tflite-fp32"}
    assert rows["tflite-fp32"]["agreement"] == 1.0 and rows["tflite-fp32"]["max_abs_diff"] == 0
    assert rows["onnx-fp32"]["agreement"] == 1.0 and rows["onnx-fp32"]["max_abs_diff"] < 1e-4
    assert (
        rows["tflite-int8"]["agreement"] is not None and rows["tflite-int8"]["parity_images"] == 10
    )
    assert report["recommendation"]["name"] in rows
    assert report["recommendation"]["agreement_vs"] == "tflite-fp32"
    assert "agreement vs tflite-fp32" in result.output
    assert "recommended for >= 50% agreement vs tflite-fp32" in result.output
    assert "standing in: no full-model reference covers these images" in result.output
    assert "| agreement vs tflite-fp32 |" in md.read_text()
