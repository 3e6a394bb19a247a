"""`--target`: the preset table, its application to QuantizationConfig, and the CLI's refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from edgexray_export.errors import ExportError
from edgexray_export.quantization import QuantizationConfig
from edgexray_export.targets import PRESETS, TARGETS, apply_target, target_preset

from edgexray.cli.main import main


def test_every_target_has_a_preset_and_applies_it() -> None:
    assert set(TARGETS) == {"arm64", "x86-vnni", "generic"}
    for name in TARGETS:
        config = apply_target(QuantizationConfig(per_channel=False), name)
        preset = PRESETS[name]
        assert config.target == name
        assert config.per_channel == preset.per_channel
        assert config.onnx_activation_type == preset.onnx_activation_type
        assert config.onnx_reduce_range == preset.onnx_reduce_range
        assert QuantizationConfig.from_dict(config.to_dict()) == config


def test_presets_differ_where_the_hardware_does() -> None:
    assert target_preset("arm64").onnx_activation_type == "int8"
    assert target_preset("x86-vnni").onnx_activation_type == "uint8"
    assert (
        target_preset("generic").onnx_reduce_range
        and not target_preset("x86-vnni").onnx_reduce_range
    )


def test_unknown_target_is_refused_by_name() -> None:
    with pytest.raises(ExportError, match="unknown target 'riscv'; choose from"):
        target_preset("riscv")
    with pytest.raises(ExportError, match="unknown target"):
        QuantizationConfig(target="riscv")
    with pytest.raises(ExportError, match="tflite_fallback"):
        QuantizationConfig(tflite_fallback="middle")


def test_cli_refuses_a_bad_target_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(b"not used")
    args = ["export", str(model), "--calibration", str(tmp_path), "-o", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--target", "riscv"])
    assert exited.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1
    assert "--target" in errors[0] and "arm64" in errors[0] and "x86-vnni" in errors[0]
    assert not (tmp_path / "out").exists()


def test_an_export_without_a_target_is_correct_on_every_cpu() -> None:
    """No --target (and QuantizationConfig() in code) is the generic preset: full-range weights
    saturated ONNX Runtime's u8 x s8 kernels on an AVX2-only CPU (tests/runtime/test_int8_on_this_cpu.py)."""
    assert QuantizationConfig() == apply_target(QuantizationConfig(), "generic")
    assert QuantizationConfig().onnx_reduce_range
    from edgexray_export.cli.export import export

    target = next(p for p in export.params if p.name == "target")
    assert target.default == "generic"
