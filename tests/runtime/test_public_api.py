"""The public API the README documents exists, its example runs as pasted outside a checkout, and
the smaller CLI promises hold (info without a path, readable info, --labels named, stdin, bytes)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, run_edgexray

import edgexray

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_name_the_readme_uses_exists():
    # `edgexray.Name` anywhere, and the bare class names the Python API section mentions.
    qualified = set(re.findall(r"\bedgexray\.([A-Z][A-Za-z0-9_]*)", README))
    section = README.split("## Python API", 1)[1].split("\n## ", 1)[0]
    bare = set(re.findall(r"`([A-Z][A-Za-z]+)[`(]", section))
    assert {
        "ImageError",
        "ModelError",
        "CardError",
        "EngineUnavailableError",
        "CardOverrides",
    } <= bare
    for name in qualified | bare:
        assert name in edgexray.__all__ and hasattr(edgexray, name), f"README uses {name}"
    for name in re.findall(r"\bedgexray\.demo\.([a-z_]+)\(", README):
        assert callable(getattr(edgexray.demo, name)), name


def test_all_lists_what_the_package_exports():
    expected = {
        "ImageError", "ModelError", "CardError", "DamagedCardError", "EngineError",
        "EngineUnavailableError", "CardOverrides", "Classifier", "ClassifierOptions",
        "Prediction", "ModelCard", "EdgexrayError",
    }  # fmt: skip
    assert expected <= set(edgexray.__all__)
    for name in edgexray.__all__:
        assert hasattr(edgexray, name), name


def _installed_env() -> dict[str, str]:
    """The environment of a process that imports the edgexray under test (wheel or checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(edgexray.__file__).resolve().parents[1])
    return env


def test_the_readme_python_example_runs_as_pasted_outside_a_checkout(tmp_path):
    section = README.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.+?)\n```", section, re.S).group(1)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_installed_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    label, confidence, *_ = result.stdout.split()
    assert label in ("NORMAL", "PNEUMONIA") and 0.0 <= float(confidence) <= 1.0


def test_demo_gives_the_bundled_model_and_sample_images():
    assert edgexray.demo.model_path().is_file()
    samples = edgexray.demo.sample_images()
    assert len(samples) == 8 and {p.parent.name for p in samples} == {"NORMAL", "PNEUMONIA"}


def test_info_without_a_path_shows_the_bundled_model_as_readable_text():
    result = run_edgexray("info")
    assert result.returncode == 0, result.stderr
    assert edgexray.demo.model_path().name in result.stdout
    # The tflite-int8 card holds a list of dicts (its quantization attempts): no Python reprs.
    assert "{'" not in result.stdout and "[" not in result.stdout
    assert "- settings: " in result.stdout
    assert "card digest: " in result.stdout


def test_too_many_labels_name_the_flag(carded):
    result = run_edgexray("classify", "-m", str(carded("binary_gray.tflite")), "--labels", "A,B,C")
    assert result.returncode == 1
    assert "--labels gives 3 class names" in result.stderr
    assert "invalid model card" not in result.stderr


def test_a_flag_the_card_cannot_take_is_named(carded):
    result = run_edgexray("classify", "-m", str(carded("three_rgb.onnx")), "--threshold", "0.3")
    assert result.returncode == 1
    assert "--threshold" in result.stderr and "invalid model card" not in result.stderr


def test_predict_takes_bytes_and_binary_file_objects(carded):
    image = edgexray.demo.sample_images()[0]
    with edgexray.Classifier(carded("binary_gray.tflite")) as clf:
        from_path = clf.predict(image)
        data = image.read_bytes()
        for source in (data, bytearray(data), io.BytesIO(data)):
            got = clf.predict(source)
            assert got.probabilities == from_path.probabilities and got.path is None
        with image.open("rb") as handle:
            assert clf.predict(handle).label == from_path.label
        with pytest.raises(edgexray.ImageError, match="image data"):
            clf.predict(b"not an image")


def test_classify_dash_reads_one_image_from_stdin(carded):
    image = edgexray.demo.sample_images()[0]
    model = str(carded("binary_gray.tflite"))
    command = [sys.executable, "-m", "edgexray.cli.main", "classify", "-m", model, "--format"]
    result = subprocess.run(
        [*command, "csv", "-"], input=image.read_bytes(), capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[1].startswith("-,")
    bad = subprocess.run([*command, "jsonl", "-"], input=b"text", capture_output=True, timeout=120)
    assert bad.returncode == 3 and b'"path": "-"' in bad.stdout


def test_the_engine_runs_the_bytes_that_were_checked(carded, tiny_reference, monkeypatch):
    """The file is swapped for another model right after it was read and checked: the engine
    must still run the checked bytes (before, it read the file again from disk)."""
    import edgexray.classifier

    path = carded("binary_gray.tflite")
    real = edgexray.classifier.read_model_file

    def read_then_swap(model_path: Path) -> object:
        checked = real(model_path)
        shutil.copy(DATA / "logits_gray.tflite", model_path)  # 3 outputs, other weights
        return checked

    monkeypatch.setattr(edgexray.classifier, "read_model_file", read_then_swap)
    with edgexray.Classifier(path) as clf:
        raw = clf.engine.run(tiny_reference["binary_gray_x"])
    assert raw.shape == tiny_reference["binary_gray_y"].shape
    assert abs(raw - tiny_reference["binary_gray_y"]).max() < 1e-5
