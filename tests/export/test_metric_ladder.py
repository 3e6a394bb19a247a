"""The int8 ladder stops at the first setting that meets the user's metric gate on the labelled
calibration images, not merely the first with enough top-1 agreement. The candidates' outputs are
given by a stand-in engine (writing real int8 files per case would cost minutes); the real
pipeline is covered in test_metric_gate.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgexray_export.metric_gate import MetricGate
from edgexray_export.variants.base import ConversionInput
from edgexray_export.variants.ladder import Candidate, climb

from edgexray.card import ModelCard

CARD = ModelCard(
    labels=("NORMAL", "PNEUMONIA"),
    task="binary",
    input_height=4,
    input_width=4,
    input_channels=1,
    normalize="unit",
)
TRUTH = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
KERAS = np.array([0.1, 0.2, 0.3, 0.2, 0.1, 0.9, 0.8, 0.7, 0.6, 0.9], np.float32)[:, None]
# Candidate 0 loses the weakest positive (0.6 -> 0.45): 90% agreement, sensitivity 0.8 vs 1.0.
OUTPUTS = {"candidate0": np.where(KERAS == 0.6, 0.45, KERAS), "candidate1": KERAS + 0.01}


class _Given:
    """Engine stand-in: the outputs of the candidate file it was opened on."""

    def __init__(self, path: Path) -> None:
        self.outputs = OUTPUTS[Path(path).stem]

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.outputs[: len(batch)].astype(np.float32)

    def close(self) -> None:
        pass


def _climb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gate: MetricGate | None):  # type: ignore[no-untyped-def]
    import edgexray.engines

    monkeypatch.setattr(edgexray.engines, "open_engine", lambda path, options: _Given(path))
    job = ConversionInput(
        source=None,  # type: ignore[arg-type]  # the candidates below never convert anything
        card=CARD,
        calibration=np.zeros((len(TRUTH), 4, 4, 1), np.float32),
        calibration_reference=KERAS,
        quality_target=0.8,
        metric_gate=gate,
        calibration_truth=TRUTH,
    )
    candidates = [Candidate(i, f"setting {i}", lambda p: p.write_bytes(b"")) for i in range(2)]
    return climb(candidates, job, tmp_path, ".tflite")


def test_without_a_gate_the_first_setting_with_enough_agreement_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _climb(monkeypatch, tmp_path, None)
    assert result.chosen.setting == 0 and len(result.attempts) == 1
    assert result.chosen_attempt.agreement == pytest.approx(0.9)


def test_the_gate_makes_the_ladder_climb_to_a_setting_that_keeps_the_metric(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = _climb(monkeypatch, tmp_path, MetricGate("sensitivity", 0.05))
    assert result.chosen.setting == 1
    first, second = result.notes()["attempts"]
    assert first["calibration_set_metric"] == pytest.approx(0.8)
    assert first["calibration_set_metric_passed"] is False
    assert second["calibration_set_metric_passed"] is True


def test_metric_gate_config_is_validated() -> None:
    from edgexray_export.errors import ExportError

    with pytest.raises(ExportError, match="unknown metric"):
        MetricGate("kappa", 0.01)
    with pytest.raises(ExportError, match="drop mode"):
        MetricGate("f1", 0.01, "percent")
    with pytest.raises(ExportError, match="between 0 and 1"):
        MetricGate("f1", -0.1)
    relative = MetricGate("auroc", 0.1, "relative")
    assert relative.drop(0.8, 0.76) == pytest.approx(0.05)
    assert MetricGate("auroc", 0.1).drop(0.8, 0.76) == pytest.approx(0.04)


def test_matching_threshold_catches_as_many_positives_as_the_full_model() -> None:
    from edgexray_export.threshold_retune import matching_threshold, sensitivity_at

    full = np.array([0.2, 0.6, 0.7, 0.55, 0.9, 0.3])
    truth = np.array([0, 1, 1, 1, 1, 0])
    shifted = full - 0.25  # the variant's probabilities sit lower
    own = matching_threshold(full, shifted, truth, 0.5)
    assert own == pytest.approx(0.3)  # the weakest caught positive, 0.55 - 0.25
    positives = truth == 1
    assert sensitivity_at(shifted[positives], own) == sensitivity_at(full[positives], 0.5) == 1.0
    assert sensitivity_at(shifted[positives], 0.5) == 0.25
    # Nothing caught by the full model, or no positives: the threshold stays.
    assert matching_threshold(full, shifted, truth, 0.95) == 0.95
    assert matching_threshold(full, shifted, np.zeros(6), 0.5) == 0.5
