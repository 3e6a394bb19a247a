"""The installed `edgexray` process: one-line errors and exit codes, no TensorFlow on import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
from conftest import DATA, runnable

from edgexray import exit_codes
from edgexray.extras import install_hint


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_never_loads_tensorflow_or_an_engine():
    code = (
        "import sys, edgexray, edgexray.cli.main; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'onnxruntime', 'ai_edge_litert', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fatal_errors_are_one_line_with_exit_code_1(tmp_path):
    result = run_cli("classify", "-m", tmp_path / "missing.tflite", tmp_path)
    assert result.returncode == exit_codes.FATAL
    assert result.stderr.strip().splitlines()[-1].startswith("edgexray: error:")
    assert "Traceback" not in result.stderr
    cardless = run_cli("classify", "-m", DATA / runnable("three_rgb.onnx"), tmp_path)
    assert cardless.returncode == exit_codes.FATAL
    assert "give --labels and --normalize" in cardless.stderr and "Traceback" not in cardless.stderr


def test_version():
    import edgexray

    assert run_cli("--version").stdout.strip() == f"edgexray, version {edgexray.__version__}"


def test_classify_loads_only_its_own_command_module():
    code = (
        "import sys; from click.testing import CliRunner; from edgexray.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['classify', '--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in sys.modules if m.startswith(('edgexray.cli.', 'edgexray_export', 'edgexray.bench'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout.strip())
    assert "edgexray.cli.classify" in loaded
    assert not [
        m
        for m in loaded
        if m.startswith(
            (
                "edgexray.cli.bench",
                "edgexray.cli.export",
                "edgexray.cli.train",
                "edgexray_export",
                "edgexray.bench",
            )
        )
    ]


def test_help_lists_every_command():
    out = run_cli("--help").stdout
    for command in ("classify", "info", "bench", "export", "train", "evaluate", "synth"):
        assert f"  {command} " in out


def test_default_demo_model_is_carded_and_classifies_its_samples():
    from edgexray import Classifier
    from edgexray.demo import default_model, samples_folder

    path = default_model()
    with Classifier(path) as clf:
        assert clf.card.labels == ("NORMAL", "PNEUMONIA") and "clinical" in clf.card.training_data
        results = clf.predict_batch(sorted(samples_folder().rglob("*.*")))
    assert len(results) == 8
    # Sample images live in folders named after their class; the demo model gets all of them right.
    assert [r.label for r in results] == [p.split("/")[-2] for p in (r.path for r in results)]


def test_demo_model_follows_the_installed_engine(monkeypatch):
    import edgexray.demo as demo
    from edgexray.errors import ModelError

    monkeypatch.setattr(demo, "available_engines", lambda: ["onnxruntime"])
    assert demo.default_model().name == "seed_cnn.onnx-int8.onnx"
    monkeypatch.setattr(demo, "available_engines", lambda: ["litert"])
    assert demo.default_model().name == "seed_cnn.tflite-int8.tflite"
    monkeypatch.setattr(demo, "available_engines", lambda: [])
    with pytest.raises(ModelError, match=re.escape(install_hint("onnx"))):
        demo.default_model()
