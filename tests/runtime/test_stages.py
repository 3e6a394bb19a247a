"""The stage registry (edgexray.stages): a check added to it runs in every mode it names, records its
note and findings in the one record, and a refusal stops the stages after it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import runnable

from edgexray import Classifier, ClassifierOptions
from edgexray.inputcheck import Finding
from edgexray.stages import registry
from edgexray.stages.stage import CHECKING_MODES, EVERY_MODE, Look, Outcome, Phase, Setup

SEEN: list[str] = []


class Probe:
    """A stage a test adds: it refuses images brighter than its limit and notes their mean."""

    phase: Phase = "decoded"
    summary = None

    def __init__(self, name: str, limit: float, modes: frozenset[str]) -> None:
        self.name, self.limit, self.modes = name, limit, modes

    def applies(self, look: Look) -> bool:
        return look.facts is not None

    def run(self, look: Look) -> Outcome:
        assert look.facts is not None
        mean = float(look.facts.pixels.mean())
        SEEN.append(self.name)
        found = Finding(self.name, f"too bright for the {self.name}", mean, self.limit)
        return Outcome((found,) if mean > self.limit else (), note={"mean": round(mean, 1)})


def probe(setup: Setup) -> Probe:
    return Probe("probe", 200.0, CHECKING_MODES)


def everywhere(setup: Setup) -> Probe:
    """A stage for every mode that only notes (its limit is never reached)."""
    return Probe("everywhere", float("inf"), EVERY_MODE)


def _added(monkeypatch: pytest.MonkeyPatch, *stages: object) -> None:
    monkeypatch.setattr(registry, "STAGES", (*stages, *registry.STAGES))
    SEEN.clear()


def _ramp(low: int, high: int) -> np.ndarray:
    # A smooth ramp the image checks refuse (`smooth`) only after the added stage has run.
    return np.tile(np.linspace(low, high, 64).astype(np.uint8), (64, 1))


@pytest.mark.parametrize("mode", ["strict", "warn", "off"])
def test_a_stage_added_to_the_registry_runs_in_the_modes_it_names(carded, monkeypatch, mode):
    _added(monkeypatch, everywhere, probe)
    model = carded(runnable("binary_gray.tflite"))
    with Classifier(model, ClassifierOptions(input_check=mode)) as clf:
        record = clf.predict(_ramp(230, 250)).to_record()
    check = record["input_check"]
    assert check["everywhere"] == {"mean": pytest.approx(240, abs=1)}
    if mode == "off":
        assert SEEN == ["everywhere"] and "probe" not in check
        assert check["status"] == "off" and "label" in record
        return
    assert check["probe"] == {"mean": pytest.approx(240, abs=1)}
    first = check["findings"][0]
    assert first["check"] == "probe" and first["threshold"] == 200.0
    if mode == "strict":
        # The probe refused: no stage after it ran (the image checks would add `smooth`).
        assert record["rejected"] == "too bright for the probe"
        assert len(check["findings"]) == 1
    else:
        assert check["status"] == "warned" and "label" in record
        assert len(check["findings"]) > 1  # the image checks ran after it


def test_a_stage_that_finds_nothing_leaves_the_decision_alone(carded, monkeypatch):
    model = carded(runnable("binary_gray.tflite"))
    image = _ramp(20, 60)
    with Classifier(model, ClassifierOptions(input_check="warn")) as clf:
        before = clf.predict(image)
    _added(monkeypatch, probe)
    with Classifier(model, ClassifierOptions(input_check="warn")) as clf:
        after = clf.predict(image)
    assert SEEN == ["probe"]
    assert after.probabilities == before.probabilities
    assert after.input_check.findings == before.input_check.findings
