"""tools/arm64/compare.py, the judge of tools/arm64-check: which arm64 results count as the same as x86."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "models" / "demo"
DATA = ROOT / "tests" / "data"
# An int8 file with an int8 output (the shipped tflite-int8 gives float32 since 2026-12-01).
INT8_OUTPUT = DATA / "binary_gray.int8.tflite"
spec = importlib.util.spec_from_file_location(
    "arm64_compare", ROOT / "tools" / "arm64" / "compare.py"
)
assert spec is not None and spec.loader is not None
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def results(folder: Path, model: str | Path, p_pneumonia: float, label: str = "PNEUMONIA") -> Path:
    folder.mkdir(exist_ok=True)
    record = {
        "path": f"/somewhere/{folder.name}/PNEUMONIA/PNEUMONIA_01.png",
        "label": label,
        "probabilities": {"NORMAL": 1 - p_pneumonia, "PNEUMONIA": p_pneumonia},
    }
    path = folder / f"{Path(model).name}.json"
    path.write_text(json.dumps([record]))
    return path


def test_tolerances_follow_the_variant() -> None:
    assert compare.tolerance(DEMO / "seed_cnn.onnx-fp32.onnx") == (1e-5, "fp32")
    step, why = compare.tolerance(INT8_OUTPUT)
    assert why == "one output step" and step == pytest.approx(1 / 256, abs=1e-5)
    assert compare.tolerance(DEMO / "seed_cnn.tflite-int8.tflite") == (2e-3, "int8, float output")
    assert compare.tolerance(DEMO / "seed_cnn.onnx-int8.onnx") == (2e-3, "int8, float output")


@pytest.mark.parametrize(
    ("model", "arm_p", "arm_label", "same"),
    [
        ("seed_cnn.tflite-fp32.tflite", 0.9 + 5e-6, "PNEUMONIA", True),
        ("seed_cnn.tflite-fp32.tflite", 0.9 + 5e-5, "PNEUMONIA", False),
        ("seed_cnn.tflite-int8.tflite", 0.9 + 1.5e-3, "PNEUMONIA", True),
        ("seed_cnn.tflite-int8.tflite", 0.9 + 3e-3, "PNEUMONIA", False),
        (INT8_OUTPUT, 0.9 + 1 / 256, "PNEUMONIA", True),
        (INT8_OUTPUT, 0.9 + 2 / 256, "PNEUMONIA", False),
        ("seed_cnn.tflite-fp32.tflite", 0.9, "NORMAL", False),
    ],
)
def test_same_label_and_probabilities_within_tolerance(
    tmp_path: Path, model: str | Path, arm_p: float, arm_label: str, same: bool
) -> None:
    x86 = results(tmp_path / "x86", model, 0.9)
    arm = results(tmp_path / "cortex-a72", model, arm_p, arm_label)
    ok, line = compare.compare(DEMO / model, x86, arm)
    assert ok is same, line
    assert line.startswith("ok" if same else "DIFFERS") and "max |dp|" in line
