"""Try quantization settings in order and keep the first that stays close enough to Keras.

Closeness is measured on the calibration images (never the held-out parity images, which stay an
honest check) by running each candidate file through the edgexray engine that will run it on the
device, so what is measured here is what ships.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from edgexray_export.variants.base import ConversionInput

from edgexray.postprocess import decide, to_probabilities

Setting = TypeVar("Setting")
_BATCH = 32
#: A float-fallback ladder stops after this many successive steps that do not lower the error
#: (each step is a calibration or a conversion: minutes on a real-size model).
FALLBACK_PATIENCE = 2


@dataclass(frozen=True)
class Candidate(Generic[Setting]):
    """One way to quantize: the setting (for the card), a one-line description, and a writer."""

    setting: Setting
    description: str
    write: Callable[[Path], None]


@dataclass(frozen=True)
class Attempt:
    """How close one candidate came to Keras on the calibration images."""

    description: str
    agreement: float
    mean_abs_diff: float
    metric_value: float | None = None
    metric_passed: bool | None = None
    max_abs_diff: float | None = None

    def as_note(self) -> dict[str, Any]:
        note: dict[str, Any] = {
            "settings": self.description,
            "calibration_set_agreement": round(self.agreement, 5),
            "calibration_set_mean_abs_diff": round(self.mean_abs_diff, 6),
        }
        if self.max_abs_diff is not None:
            note["calibration_set_max_abs_diff"] = round(self.max_abs_diff, 6)
        if self.metric_value is not None:
            note["calibration_set_metric"] = round(self.metric_value, 5)
            note["calibration_set_metric_passed"] = self.metric_passed
        return note


@dataclass(frozen=True)
class LadderResult(Generic[Setting]):
    """The kept candidate, its file and measurement, every attempt (and failure) for the card,
    and why a ladder stopped before its last step (`stops`, one line each)."""

    chosen: Candidate[Setting]
    path: Path
    chosen_attempt: Attempt
    attempts: tuple[Attempt, ...]
    failures: tuple[str, ...]
    stops: tuple[str, ...] = ()

    def notes(self) -> dict[str, Any]:
        notes: dict[str, Any] = {
            "attempts": [attempt.as_note() for attempt in self.attempts],
            "failed_attempts": list(self.failures),
        }
        if self.stops:
            notes["ladder_stopped"] = list(self.stops)
        return notes


def measure(path: Path, job: ConversionInput, description: str) -> Attempt:
    """Top-1 agreement and mean |dp| of the model file at `path` against Keras, calibration images."""
    from edgexray.engines import EngineOptions, open_engine

    engine = open_engine(path, EngineOptions())
    try:
        raw = np.concatenate(
            [
                engine.run(job.calibration[i : i + _BATCH])
                for i in range(0, len(job.calibration), _BATCH)
            ]
        )
    finally:
        engine.close()
    got = to_probabilities(raw.reshape(len(job.calibration), -1), job.card)
    want = to_probabilities(job.calibration_reference.astype(np.float32), job.card)
    agreement = float(np.mean(decide(got, job.card) == decide(want, job.card)))
    diff = np.abs(got - want)
    attempt = Attempt(
        description, agreement, float(np.mean(diff)), max_abs_diff=float(np.max(diff, initial=0.0))
    )
    if job.metric_gate is None or job.calibration_truth is None:
        return attempt
    check = job.metric_gate.check(want, got, job.calibration_truth, job.card)
    return dataclasses.replace(attempt, metric_value=check.variant, metric_passed=check.passed)


def closeness(attempt: Attempt) -> tuple[float, float]:
    """Sort key, larger is closer to Keras: agreement first, then smaller mean |dp|."""
    return attempt.agreement, -attempt.mean_abs_diff


def climb(
    candidates: Sequence[Candidate[Setting]],
    job: ConversionInput,
    folder: Path,
    suffix: str,
    reached: Callable[[Attempt], bool] | None = None,
    patience: int | None = None,
    baseline: Attempt | None = None,
) -> LadderResult[Setting]:
    """Write (into `folder`) and measure candidates in order until one is good enough; keep the
    first that is, else the closest (agreement, then mean |dp|). Good enough: `reached(attempt)`,
    by default agreement >= job.quality_target, and the user's metric gate met when there is one
    (job.metric_gate, on the labelled calibration images). A candidate whose converter raises is recorded and
    skipped; RuntimeError if all fail.

    patience: stop after that many successive candidates that come no closer (closeness) than
    the closest so far, `baseline` (where a fallback ladder starts from) included; the result's
    `stops` says so."""

    def good_enough(attempt: Attempt) -> bool:
        close = reached(attempt) if reached else attempt.agreement >= job.quality_target
        return close and attempt.metric_passed is not False

    tried: list[tuple[Attempt, Candidate[Setting], Path]] = []
    failures: list[str] = []
    stops: list[str] = []
    closest, stale = baseline, 0
    for i, candidate in enumerate(candidates):
        path = folder / f"candidate{i}{suffix}"
        try:
            candidate.write(path)
        except Exception as exc:  # converters raise many types; one failing setting is not fatal
            failures.append(f"{candidate.description}: {type(exc).__name__}: {exc}"[:200])
            continue
        attempt = measure(path, job, candidate.description)
        tried.append((attempt, candidate, path))
        if good_enough(attempt):
            break
        if closest is None or closeness(attempt) > closeness(closest):
            closest, stale = attempt, 0
            continue
        stale += 1
        if patience is not None and stale >= patience and i + 1 < len(candidates):
            # A graph error or a model whose error no float layer removes: more of the same
            # steps cost a calibration each and, in issue 22, 13 of them changed nothing.
            stops.append(
                f"stopped after {stale} successive steps did not lower the error (last: "
                f"{candidate.description}); {len(candidates) - i - 1} further step(s) not tried"
            )
            break
    if not tried:
        raise RuntimeError("every quantization attempt failed: " + "; ".join(failures))
    last = tried[-1]
    best, chosen, path = last if good_enough(last[0]) else max(tried, key=lambda t: closeness(t[0]))
    attempts = tuple(a for a, _, _ in tried)
    return LadderResult(chosen, path, best, attempts, tuple(failures), tuple(stops))
