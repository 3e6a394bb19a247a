"""The per-layer quantization report: rows from TF's debugger dump become a table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from edgexray_export.quantization_debug import format_layer_table, layer_errors, write_layer_report

ROWS = [
    {"tensor_name": "conv;relu;bias", "op_name": "CONV_2D", "mean_squared_error": "0.0004",
     "scale": "0.1", "max_abs_error": "0.05"},
    {"tensor_name": "dense", "op_name": "FULLY_CONNECTED", "mean_squared_error": "0.0081",
     "scale": "0.1", "max_abs_error": "0.3"},
]  # fmt: skip


def test_layer_errors_measure_each_layer_in_quantization_steps() -> None:
    conv, dense = layer_errors(ROWS)
    assert conv.layer == "conv" and conv.op_type == "CONV_2D"
    assert conv.rmse == pytest.approx(0.02) and conv.rmse_over_scale == pytest.approx(0.2)
    assert dense.rmse_over_scale == pytest.approx(0.9) and dense.suspect and not conv.suspect


def test_report_is_written_as_json_and_a_table(tmp_path: Path) -> None:
    json_path, text_path = write_layer_report(layer_errors(ROWS), tmp_path / "m.tflite-int8.tflite")
    assert json_path.name == "m.tflite-int8.quantization-debug.json"
    data = json.loads(json_path.read_text())
    assert [row["layer"] for row in data["layers"]] == ["conv", "dense"]
    assert [row["suspect"] for row in data["layers"]] == [False, True]
    table = text_path.read_text().splitlines()
    assert table[0].split() == ["#", "layer", "op", "rmse", "rmse/scale", "max", "|err|"]
    assert table[2].split()[:2] == ["1", "dense"] and table[2].endswith("*")
    assert text_path.read_text() == format_layer_table(layer_errors(ROWS))


def test_contribution_column_appears_when_layers_were_ranked(tmp_path: Path) -> None:
    errors = layer_errors(ROWS, {"conv;relu;bias": 0.0123, "dense": -0.0004})
    assert [e.contribution for e in errors] == [0.0123, -0.0004]
    json_path, text_path = write_layer_report(
        errors, tmp_path / "m.tflite", {"contribution_images": 8}
    )
    data = json.loads(json_path.read_text())
    assert data["contribution_images"] == 8
    assert [row["contribution"] for row in data["layers"]] == [0.0123, -0.0004]
    lines = text_path.read_text().splitlines()
    assert lines[0].split()[-1] == "contribution"
    assert lines[1].split()[-1] == "+0.01230" and lines[2].split()[-2] == "-0.00040"
    # Without a ranking the column is left out.
    assert "contribution" not in format_layer_table(layer_errors(ROWS))
