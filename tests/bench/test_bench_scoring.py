"""Parity and accuracy arithmetic of the result rows, on known inputs, and their JSON shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgexray.bench.comparison import Comparison, comparison_from_probabilities
from edgexray.bench.measure import Measurement
from edgexray.bench.results import BenchResult, build_result, score
from edgexray.bench.runner import RunOutcome, SubjectSpec
from edgexray.bench.timing import Percentiles
from edgexray.card import ModelCard

BINARY = ModelCard(
    labels=("NORMAL", "PNEUMONIA"),
    task="binary",
    input_height=16,
    input_width=16,
    input_channels=1,
    normalize="unit",
)
THREE = BINARY.replace(labels=("COVID", "NORMAL", "PNEUMONIA"), task="multiclass")


def binary(p: list[float]) -> np.ndarray:
    p_arr = np.array(p)
    return np.stack([1 - p_arr, p_arr], axis=1)


def test_agreement_and_differences_against_the_full_model() -> None:
    reference = binary([0.1, 0.9, 0.6, 0.4])
    variant = binary([0.2, 0.8, 0.45, 0.4])  # third image flips at the 0.5 threshold
    quality = score(variant, BINARY, comparison_from_probabilities(reference, "keras"), None)
    assert quality.agreement == 0.75
    assert quality.max_abs_diff == pytest.approx(0.15)
    assert quality.mean_abs_diff == pytest.approx((0.1 + 0.1 + 0.15 + 0) / 4)
    assert quality.parity_images == 4
    assert quality.accuracy is None and quality.metrics is None


def test_card_threshold_decides_binary_agreement() -> None:
    reference = binary([0.35, 0.9])
    variant = binary([0.25, 0.9])
    compare = comparison_from_probabilities(reference, "keras")
    assert score(variant, BINARY, compare, None).agreement == 1.0  # both NORMAL at 0.5
    assert score(variant, BINARY.replace(threshold=0.3), compare, None).agreement == 0.5


def test_parity_only_on_the_images_the_reference_holds() -> None:
    variant = binary([0.9, 0.1, 0.2, 0.7])
    # The reference knows images 1 and 3 only; image 0 disagrees but is not compared.
    compare = Comparison(np.array([1, 3]), binary([0.1, 0.8]), "saved")
    quality = score(variant, BINARY, compare, None)
    assert quality.agreement == 1.0 and quality.parity_images == 2
    assert quality.max_abs_diff == pytest.approx(0.1)


def test_accuracy_precision_recall_and_confusion_from_class_folders() -> None:
    probabilities = np.array(
        [
            [0.8, 0.1, 0.1],  # COVID, right
            [0.2, 0.7, 0.1],  # NORMAL, wrong (is COVID)
            [0.1, 0.8, 0.1],  # NORMAL, right
            [0.1, 0.2, 0.7],  # PNEUMONIA, right
            [0.6, 0.2, 0.2],  # COVID, wrong (is PNEUMONIA)
        ]
    )
    truth = np.array([0, 0, 1, 2, 2])
    quality = score(probabilities, THREE, None, truth)
    assert quality.accuracy == pytest.approx(3 / 5)
    assert quality.agreement is None
    metrics = quality.metrics
    assert metrics is not None
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert metrics["per_class"]["COVID"]["precision"] == pytest.approx(0.5)
    assert metrics["per_class"]["COVID"]["recall"] == pytest.approx(0.5)
    assert metrics["per_class"]["PNEUMONIA"]["recall"] == pytest.approx(0.5)
    assert metrics["per_class"]["PNEUMONIA"]["precision"] == pytest.approx(1.0)


def measurement(p50: float, probabilities: np.ndarray) -> Measurement:
    return Measurement(
        card=BINARY,
        engine="edgexray/litert",
        load_ms=12.0,
        first_inference_ms=3.0,
        latency_ms=Percentiles(p50, p50 * 1.1, p50 * 1.5, 50),
        end_to_end_ms=Percentiles(p50 * 3, p50 * 3.3, p50 * 4, 50),
        throughput_ips={1: 1000 / p50, 8: 1500 / p50},
        peak_rss_mb=48.0,
        probabilities=probabilities,
    )


def row(tmp_path: Path, name: str, p50: float, variant_p: list[float]) -> BenchResult:
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(b"x" * 1000)
    outcome = RunOutcome(
        SubjectSpec(name, "edgexray", model, "tflite"), measurement(p50, binary(variant_p))
    )
    reference = comparison_from_probabilities(binary([0.1, 0.9, 0.6, 0.4]), "keras")
    return build_result(outcome, reference, np.array([0, 1, 1, 0]))


def test_json_row_has_every_field_the_issue_promises(tmp_path: Path) -> None:
    data = row(tmp_path, "tflite-int8", 2.0, [0.1, 0.9, 0.6, 0.4]).to_dict()
    assert data["name"] == "tflite-int8" and data["format"] == "tflite"
    assert data["size_bytes"] == 1000 and data["load_ms"] == 12.0
    assert data["latency_ms"] == {"p50": 2.0, "p90": 2.2, "p99": 3.0, "count": 50}
    assert data["end_to_end_ms"]["p50"] == 6.0
    assert data["throughput_ips"] == {"1": 500.0, "8": 750.0}
    assert data["peak_rss_mb"] == 48.0
    assert data["agreement"] == 1.0 and data["max_abs_diff"] == 0.0
    assert data["accuracy"] == 1.0
    assert data["metrics"]["confusion_matrix"] == [[2, 0], [0, 2]]
    assert data["error"] is None


def test_fastest_variant_above_an_agreement_floor_is_a_one_liner(tmp_path: Path) -> None:
    rows = [
        row(tmp_path, "tflite-fp32", 6.9, [0.1, 0.9, 0.6, 0.4]),  # agreement 1.0
        row(tmp_path, "tflite-int8", 3.2, [0.1, 0.9, 0.6, 0.45]),  # 1.0
        row(tmp_path, "onnx-int8", 2.4, [0.1, 0.9, 0.4, 0.4]),  # 0.75: fastest but below floor
        BenchResult("broken", "x.onnx", "onnx", "variant", error="cannot load"),
    ]
    best = min((r for r in rows if r.meets(0.995)), key=lambda r: r.median_ms)
    assert best.name == "tflite-int8"
    assert min(rows, key=lambda r: r.median_ms).name == "onnx-int8"


def test_a_failed_run_is_a_row_with_its_reason_and_no_figures(tmp_path: Path) -> None:
    model = tmp_path / "bad.onnx"
    model.write_bytes(b"junk")
    result = build_result(
        RunOutcome(SubjectSpec("bad", "edgexray", model, "onnx"), error="cannot load"), None, None
    )
    data = result.to_dict()
    assert not result.ok and data["error"] == "cannot load"
    assert data["latency_ms"] is None and data["agreement"] is None and data["size_bytes"] == 4
    assert result.median_ms == float("inf") and not result.meets(0.0)


def test_rows_are_named_by_variant_or_by_file_when_variants_repeat(tmp_path: Path) -> None:
    from edgexray.bench.suite import variant_specs

    models = (tmp_path / "a.tflite", tmp_path / "b.onnx", tmp_path / "c.onnx")
    cards = [BINARY.replace(variant=v) for v in ("tflite-int8", "onnx-int8", "onnx-int8")]
    specs = variant_specs(models, cards)
    assert [s.name for s in specs] == ["tflite-int8", "b.onnx", "c.onnx"]
    assert [s.format for s in specs] == ["tflite", "onnx", "onnx"]
    assert all(s.role == "variant" and s.factory == "edgexray" for s in specs)
