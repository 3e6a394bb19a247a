"""The user's metric gate (`export --max-drop --metric`) and per-variant thresholds
(`--retune-threshold`), on a tiny binary model whose "variant" is the model with its output bias
lowered: decisions that move only where the probabilities sit near the threshold, as int8 does."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras
from edgexray_export.errors import ExportError
from edgexray_export.keras_loading import LoadedKerasModel
from edgexray_export.metric_gate import MetricGate
from edgexray_export.pipeline import ParityGateError, export_model
from edgexray_export.report import format_table
from edgexray_export.variants import VARIANTS
from edgexray_export.variants.tflite import TFLiteFloat32
from synthetic import trained_binary_cnn, write_folder

from edgexray.card import ModelCard
from edgexray.modelfile import read_card
from edgexray.reference import read_reference

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

BINARY = ("NORMAL", "PNEUMONIA")
VARIANT = "tflite-fp32"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny trained binary CNN, its labelled image folder, and the Keras parity probabilities."""
    base = tmp_path_factory.mktemp("metric_gate")
    folder = write_folder(base / "images", BINARY, 24, seed=5)
    path = trained_binary_cnn(base / "tiny.keras", BINARY, epochs=15, learning_rate=0.01)
    plain = export_model(
        path, base / "plain", normalize="unit", calibration_dir=folder, variants=[VARIANT]
    )
    reference = read_reference(plain.reference_path)
    return {
        "path": path,
        "folder": folder,
        "base": base,
        "probabilities": reference.probabilities[:, 1],
        "truth": reference.true_label_indices(),
    }


def _shifted(delta: float) -> type[TFLiteFloat32]:
    """tflite-fp32 of the model with its output bias lowered by `delta` (a logit shift)."""

    class Shifted(TFLiteFloat32):
        def convert(self, job, out_path):  # type: ignore[no-untyped-def]
            original = job.source.model
            model = keras.models.clone_model(original)
            model.set_weights(original.get_weights())
            kernel, bias = model.layers[-1].get_weights()
            model.layers[-1].set_weights([kernel, bias - delta])
            moved = dataclasses.replace(job, source=LoadedKerasModel(model, job.source.info))
            return super().convert(moved, out_path)

    return Shifted


def _delta_losing_one_positive(tiny: dict) -> float:
    """A logit shift that moves the least certain caught positive parity image below 0.5."""
    p, truth = tiny["probabilities"], tiny["truth"]
    caught = p[(truth == 1) & (p >= 0.5)]
    assert caught.size, "the tiny model must catch some positives"
    weakest = float(np.clip(caught.min(), 1e-6, 1 - 1e-6))
    return float(np.log(weakest / (1 - weakest))) + 0.05


def test_a_variant_that_keeps_agreement_but_loses_sensitivity_is_refused(
    tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(VARIANTS, VARIANT, _shifted(_delta_losing_one_positive(tiny)))
    gate = MetricGate("sensitivity", 0.01)
    kwargs = dict(
        normalize="unit",
        calibration_dir=tiny["folder"],
        variants=[VARIANT],
        min_agreement=0.5,
        metric_gate=gate,
    )
    with pytest.raises(ParityGateError, match=r"tflite-fp32 sensitivity 0\.\d+ vs the full") as e:
        export_model(tiny["path"], tmp_path / "strict", **kwargs)
    assert "top-1 agreement" not in str(e.value)  # the agreement gate alone would have kept it
    parity = e.value.report.result(VARIANT).parity
    assert parity.agreement >= 0.5 and parity.metric_passed is False
    assert parity.metric_reference - parity.metric_variant > 0.01
    assert not (tmp_path / "strict" / f"tiny.{VARIANT}.tflite").exists()

    report = export_model(tiny["path"], tmp_path / "kept", allow_degraded=True, **kwargs)
    card = read_card(tmp_path / "kept" / f"tiny.{VARIANT}.tflite")
    assert report.result(VARIANT).status == "degraded"
    assert card.parity.degraded and card.parity.metric == "sensitivity"
    assert card.parity.metric_passed is False and card.parity.decisions_changed >= 1
    assert "sensitivity" in format_table(report)


def test_a_variant_within_the_drop_is_kept_and_its_card_says_so(tiny: dict, tmp_path: Path) -> None:
    gate = MetricGate("auroc", 0.01, "relative")
    report = export_model(
        tiny["path"],
        tmp_path,
        normalize="unit",
        calibration_dir=tiny["folder"],
        variants=[VARIANT],
        metric_gate=gate,
    )
    assert report.result(VARIANT).status == "ok"
    card = read_card(tmp_path / f"tiny.{VARIANT}.tflite")
    assert card.parity.metric == "auroc" and card.parity.metric_drop_mode == "relative"
    assert card.parity.metric_passed is True and card.parity.metric_max_drop == 0.01
    assert card.parity.metric_variant == pytest.approx(card.parity.metric_reference, abs=1e-6)
    saved = json.loads((tmp_path / "tiny.parity.json").read_text())
    assert saved["results"][0]["parity"]["metric_passed"] is True
    # A card written before these fields existed still reads and verifies: they are left out.
    plain = read_card(tiny["base"] / "plain" / f"tiny.{VARIANT}.tflite")
    assert "metric" not in plain.to_dict()["parity"]
    assert ModelCard.from_dict(plain.to_dict()) == plain


def test_the_cli_exits_4_and_names_the_metric(
    tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from edgexray.cli.main import main

    monkeypatch.setitem(VARIANTS, VARIANT, _shifted(_delta_losing_one_positive(tiny)))
    args = ["export", "--normalize", "unit", str(tiny["path"])]
    args += ["--calibration", str(tiny["folder"]), "-o"]
    args += [str(tmp_path), "--variants", VARIANT, "--min-agreement", "0.5"]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--max-drop", "0.01", "--metric", "sensitivity"])
    assert exited.value.code == 4
    assert "tflite-fp32 sensitivity" in capsys.readouterr().err
    main([*args, "--max-drop", "0.01", "--metric", "sensitivity", "--allow-degraded"])
    assert "OVER the allowed drop 0.01" in capsys.readouterr().out
    assert read_card(tmp_path / f"tiny.{VARIANT}.tflite").parity.degraded


def test_the_metric_gate_needs_labelled_images(tiny: dict, tmp_path: Path) -> None:
    unlabelled = tmp_path / "flat"
    unlabelled.mkdir()
    for image in sorted(Path(tiny["folder"]).rglob("*.png"))[:12]:
        (unlabelled / f"{image.parent.name}-{image.name}").write_bytes(image.read_bytes())
    with pytest.raises(ExportError, match="--max-drop needs labelled images"):
        export_model(
            tiny["path"],
            tmp_path / "out",
            normalize="unit",
            calibration_dir=unlabelled,
            labels=BINARY,
            variants=[VARIANT],
            metric_gate=MetricGate("f1", 0.02),
        )


def test_retuned_threshold_gives_back_the_full_models_sensitivity(
    tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(VARIANTS, VARIANT, _shifted(4.0))
    kwargs = dict(
        normalize="unit", calibration_dir=tiny["folder"], variants=[VARIANT], allow_degraded=True
    )
    kwargs["metric_gate"] = MetricGate("sensitivity", 0.0)
    plain = export_model(tiny["path"], tmp_path / "plain", **kwargs)
    before = plain.result(VARIANT).parity
    assert before.decisions_changed > 0 and before.metric_passed is False

    retuned = export_model(tiny["path"], tmp_path / "retuned", retune_threshold=True, **kwargs)
    card = read_card(tmp_path / "retuned" / f"tiny.{VARIANT}.tflite")
    assert card.threshold is not None and card.threshold < 0.5
    assert card.parity.reference_threshold == 0.5
    assert card.parity.decisions_changed == before.decisions_changed  # at the Keras threshold
    after = retuned.result(VARIANT).parity
    assert after.metric_variant > before.metric_variant
    assert after.agreement > before.agreement


def test_debug_quantization_writes_the_int8_layer_report(tiny: dict, tmp_path: Path) -> None:
    export_model(
        tiny["path"],
        tmp_path,
        normalize="unit",
        calibration_dir=tiny["folder"],
        variants=["tflite-int8"],
        min_agreement=0.0,
        debug_quantization=True,
    )
    data = json.loads((tmp_path / "tiny.tflite-int8.quantization-debug.json").read_text())
    ops = [row["op_type"] for row in data["layers"]]
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops
    assert all(row["rmse_over_scale"] >= 0 for row in data["layers"])
    table = (tmp_path / "tiny.tflite-int8.quantization-debug.txt").read_text()
    assert "rmse/scale" in table and "contribution" in table.splitlines()[0]
    # Each layer's contribution to the final error: measured for every layer but the output
    # activation (kept float in every setting), on the calibration images.
    contributions = {row["op_type"]: row["contribution"] for row in data["layers"]}
    assert contributions["LOGISTIC"] is None
    assert all(isinstance(contributions[op], float) for op in ("CONV_2D", "FULLY_CONNECTED"))
    assert data["contribution_images"] > 0 and data["int8_mean_abs_diff"] >= 0


def test_debug_quantization_writes_the_onnx_layer_report(tiny: dict, tmp_path: Path) -> None:
    export_model(
        tiny["path"],
        tmp_path,
        normalize="unit",
        calibration_dir=tiny["folder"],
        variants=["onnx-int8"],
        min_agreement=0.0,
        debug_quantization=True,
    )
    data = json.loads((tmp_path / "tiny.onnx-int8.quantization-debug.json").read_text())
    ops = [row["op_type"] for row in data["layers"]]
    assert "Conv" in ops and "Sigmoid" not in ops  # the float tail has no quantized output
    assert all(row["rmse_over_scale"] >= 0 and "sqnr_db" in row for row in data["layers"])
    assert any(row["contribution"] is not None for row in data["layers"])
    assert data["contribution_images"] > 0
    header = (tmp_path / "tiny.onnx-int8.quantization-debug.txt").read_text().splitlines()[0]
    assert "SQNR dB" in header and "contribution" in header
