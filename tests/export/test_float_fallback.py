"""tflite-int8's float fallback on a tiny model: the worst-layer ladder keeps exactly the layers the
ranking names, stops at the first setting within the budget, and "auto" keeps the cheaper of the
worst-layer and prefix results. Measurements are real except where a test pretends a setting is
far from Keras (tiny models quantize too well to need any fallback)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
from edgexray_export.pipeline import export_model
from edgexray_export.quantization import QuantizationConfig
from edgexray_export.variants import ladder, tflite
from edgexray_export.variants.layer_ranking import LayerRanking
from edgexray_export.variants.tflite_settings import (
    OUTPUT_OPS,
    short_layer_name,
    worst_settings,
)
from synthetic import trained_binary_cnn, write_folder

from edgexray.modelfile import read_card

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

BINARY = ("NORMAL", "PNEUMONIA")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("float_fallback")
    return {
        "folder": write_folder(base / "images", BINARY, 16, seed=7),
        "path": trained_binary_cnn(base / "tiny.keras", BINARY, epochs=6),
    }


def test_worst_settings_take_the_ranking_in_order_and_never_every_layer() -> None:
    ranking = ("conv_e", "conv_c", "conv_a", "conv_d", "conv_b")
    groups = tuple((name,) for name in ranking)
    kept = [s.float_layers for s in worst_settings(groups, total_layers=6)]
    assert kept == [ranking[:1], ranking[:2], ranking[:4], ranking]
    settings = worst_settings(groups, 6)
    assert all(s.float_ops == OUTPUT_OPS and s.strategy == "worst" for s in settings)
    # As many ranked layers as layers: one must stay int8.
    assert [len(k.float_layers) for k in worst_settings(groups, total_layers=5)] == [1, 2, 4]
    assert worst_settings((), total_layers=5) == []


def test_block_settings_add_one_whole_block_at_a_time() -> None:
    blocks = (("c1", "c2"), ("a1", "a2"), ("b1", "b2"))
    settings = worst_settings(blocks, total_layers=7, strategy="blocks", every=True)
    assert [s.float_layers for s in settings] == [
        ("c1", "c2"),
        ("c1", "c2", "a1", "a2"),
        ("c1", "c2", "a1", "a2", "b1", "b2"),
    ]
    assert [s.groups for s in settings] == [1, 2, 3] and settings[0].strategy == "blocks"
    # Never every layer: with 6 layers in all, the third block is not offered.
    assert len(worst_settings(blocks, total_layers=6, strategy="blocks", every=True)) == 2


def test_ranking_lists_only_groups_that_help_worst_first() -> None:
    ranking = LayerRanking(0.1, {"a": 0.01, "b": -0.002, "c": 0.03, "d": 0.01}, images=8)
    assert ranking.worst_first() == ("c", "a", "d")  # ties keep execution order; b does not help
    assert ranking.worst_groups() == (("c",), ("a",), ("d",))
    members = {"block 1": ("x", "y"), "block 2": ("z",)}
    blocks = LayerRanking(0.1, {"block 1": 0.001, "block 2": 0.02}, 8, members)
    assert blocks.worst_groups() == (("z",), ("x", "y"))


def _reversed_ranking(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the ranking name the layers in reverse execution order (unlike any prefix); returns
    the names it ranked, worst first, once the export has asked for them."""
    ranked: list[str] = []

    def fake(layers, write, job, folder, images=96):  # type: ignore[no-untyped-def]
        names = [name for name, op in layers if op not in OUTPUT_OPS]
        ranked.extend(reversed(names))
        return LayerRanking(1.0, {n: 0.01 * (i + 1) for i, n in enumerate(names)}, images)

    monkeypatch.setattr(tflite, "rank_layers", fake)
    return ranked


def _pretend(monkeypatch: pytest.MonkeyPatch, far: Callable[[str], bool]) -> None:
    """Settings whose description `far` accepts measure mean |dp| 0.9 (real figures otherwise)."""
    real = ladder.measure

    def pretend(path: Path, job, description: str) -> ladder.Attempt:  # type: ignore[no-untyped-def]
        attempt = real(path, job, description)
        return dataclasses.replace(attempt, mean_abs_diff=0.9) if far(description) else attempt

    monkeypatch.setattr(ladder, "measure", pretend)


def _export(tiny: dict[str, Path], out: Path, fallback: str) -> dict:
    report = export_model(
        tiny["path"],
        out,
        normalize="unit",
        calibration_dir=tiny["folder"],
        calibration_size=32,
        variants=["tflite-int8"],
        min_agreement=0.0,
        quantization=QuantizationConfig(tflite_max_mean_abs_diff=0.5, tflite_fallback=fallback),
    )
    result = report.result("tflite-int8")
    return {"notes": read_card(result.path).quantization, "path": result.path}


def test_worst_layer_ladder_keeps_the_ranked_layers_and_stops_within_budget(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    ranked = _reversed_ranking(monkeypatch)
    _pretend(monkeypatch, lambda d: d.startswith(("int8 up to", "the 1 of")))
    exported = _export(tiny, tmp_path, "worst")
    notes = exported["notes"]
    settings = [a["settings"] for a in notes["attempts"]]
    assert len(settings) == 3  # int8, worst 1 (pretended far), worst 2: within budget, stop
    assert settings[1].startswith("the 1 of ") and settings[2].startswith("the 2 of ")
    assert notes["attempts"][2]["calibration_set_mean_abs_diff"] <= 0.5
    assert notes["layers_kept_float"] == [short_layer_name(n) for n in ranked[:2]]
    assert notes["float_fallback"]["strategy"] == "worst"
    # Read back from the file: it holds float32 layers (the kept ones, below) and int8 ones.
    assert "float32 in" in notes["layers"] and notes["int8_layers"] >= 1

    interpreter = Interpreter(model_path=str(exported["path"]))
    dtypes = {t["name"].split(";")[0]: t["dtype"] for t in interpreter.get_tensor_details()}
    # Graph outputs (the pooled features) are named differently by the debugger and the file;
    # every kept layer the file names by its own name computes in float32.
    named = [name for name in notes["layers_kept_float"] if name in dtypes]
    assert named and all(dtypes[name] == np.float32 for name in named), notes["layers"]
    assert np.int8 in set(dtypes.values())


def test_auto_keeps_the_strategy_within_budget_with_fewer_float_layers(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reversed_ranking(monkeypatch)

    def two_blocks(layers, write, job, folder, blocks=8, images=96):  # type: ignore[no-untyped-def]
        names = [name for name, op in layers if op not in OUTPUT_OPS]
        members = {"block 1": tuple(names[:2]), "block 2": tuple(names[2:4])}
        return LayerRanking(1.0, {"block 1": 0.02, "block 2": 0.01}, images, members)

    monkeypatch.setattr(tflite, "rank_blocks", two_blocks)
    # Every prefix and block setting is far from Keras; worst-layer settings are measured as they are.
    _pretend(monkeypatch, lambda d: d.startswith(("int8 up to", "float input")) or "block" in d)
    notes = _export(tiny, tmp_path, "auto")["notes"]
    fallback = notes["float_fallback"]
    assert set(fallback["ladders"]) == {"worst", "blocks", "prefix"}
    assert fallback["strategy"] == "worst"
    assert fallback["ladders"]["worst"]["within_budget"]
    assert not fallback["ladders"]["prefix"]["within_budget"]
    assert not fallback["ladders"]["blocks"]["within_budget"]
    assert fallback["reason"] == "the only strategy within budget"
    assert len(notes["layers_kept_float"]) == 1


def test_cli_budget_fallback_and_target_reach_the_card(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from edgexray.cli.main import cli

    _pretend(monkeypatch, lambda d: d.startswith("int8 up to"))
    args = ["export", "--normalize", "unit", str(tiny["path"])]
    args += ["--calibration", str(tiny["folder"])]
    args += ["--calibration-size", "32", "-o", str(tmp_path), "--variants", "tflite-int8"]
    args += ["--min-agreement", "0", "--int8-max-mean-dp", "0.5", "--int8-fallback", "prefix"]
    result = CliRunner().invoke(cli, [*args, "--int8-max-dp", "0.9", "--target", "arm64"])
    assert result.exit_code == 0, result.output
    notes = read_card(tmp_path / "tiny.tflite-int8.tflite").quantization
    assert notes["target"] == "arm64"
    assert notes["calibration_mean_abs_diff_budget"] == 0.5
    assert notes["calibration_max_abs_diff_budget"] == 0.9
    assert notes["float_fallback"]["strategy"] == "prefix"
    assert set(notes["float_fallback"]["ladders"]) == {"prefix"}
