"""tflite-int8's float fallback: keep some layers in float until an error budget is met.

Ways to choose the layers (QuantizationConfig.tflite_fallback):

- "worst": the layers ranked by their contribution to the final error
  (`edgexray_export.variants.layer_ranking`), the 1, 2, 4, 8, ... worst kept in float;
- "blocks": the same for 8 blocks of consecutive layers, the 1, 2, ... 7 worst kept in float (a
  layer kept float alone still has its output rounded for the next int8 layer; inside a float
  block the activations stay float);
- "prefix": the input and the first 1/8, 2/8, ... of the layers, in execution order (for models
  whose decisions move under 8-bit noise everywhere, where the error piles up from the input on);
- "auto": all three; the kept file is the one within budget with the fewest float layers (smaller and
  faster), else the one closest to Keras.

Every candidate is measured on the calibration images (never the parity images) by the engine that
runs it on the device; the card records every attempt, the kept strategy and why.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgexray_export.variants.base import ConversionInput
from edgexray_export.variants.ladder import (
    FALLBACK_PATIENCE,
    Attempt,
    Candidate,
    LadderResult,
    climb,
    closeness,
)
from edgexray_export.variants.layer_ranking import LayerRanking
from edgexray_export.variants.tflite_settings import (
    FALLBACK_STRATEGIES,
    Int8Setting,
    prefix_settings,
    short_layer_name,
    worst_settings,
)


@dataclass(frozen=True)
class ErrorBudget:
    """How far from Keras a tflite-int8 file may be on the calibration images (probabilities):
    mean |dp| and largest |dp|; None leaves that bound off."""

    mean_abs_diff: float | None = None
    max_abs_diff: float | None = None

    @property
    def active(self) -> bool:
        return self.mean_abs_diff is not None or self.max_abs_diff is not None

    def met(self, attempt: Attempt) -> bool:
        mean_ok = self.mean_abs_diff is None or attempt.mean_abs_diff <= self.mean_abs_diff
        peak = attempt.max_abs_diff
        max_ok = self.max_abs_diff is None or (peak is not None and peak <= self.max_abs_diff)
        return mean_ok and max_ok

    def notes(self) -> dict[str, float]:
        notes = {}
        if self.mean_abs_diff is not None:
            notes["calibration_mean_abs_diff_budget"] = self.mean_abs_diff
        if self.max_abs_diff is not None:
            notes["calibration_max_abs_diff_budget"] = self.max_abs_diff
        return notes


@dataclass(frozen=True)
class FallbackInputs:
    """What the fallback works with: the quantized layers ((tensor name, rmse/scale) in execution
    order), a writer for a setting, the layer ranking (computed on first use) and a scratch folder."""

    layers: list[tuple[str, float]]
    write: Callable[[Int8Setting, Path], None]
    ranking: Callable[[], LayerRanking]
    block_ranking: Callable[[], LayerRanking]
    folder: Path
    suffix: str


def _ladder(
    strategy: str,
    inputs: FallbackInputs,
    job: ConversionInput,
    budget: ErrorBudget,
    start: Attempt,
) -> LadderResult[Int8Setting] | None:
    """The `strategy` ladder's result, from the int8 file measured as `start`; it stops after
    FALLBACK_PATIENCE steps in a row that come no closer to Keras. None: no candidate to try."""
    names = tuple(name for name, _ in inputs.layers)
    if strategy == "worst":
        settings = worst_settings(inputs.ranking().worst_groups(), len(names))
    elif strategy == "blocks":
        blocks = inputs.block_ranking().worst_groups()
        settings = worst_settings(blocks, len(names), strategy="blocks", every=True)
    else:
        settings = prefix_settings(names)
    if not settings:  # a one-layer model, or no layer whose float computation helps
        return None
    candidates = [
        Candidate(s, s.describe(len(names)), functools.partial(inputs.write, s)) for s in settings
    ]
    folder = inputs.folder / f"float-{strategy}"
    folder.mkdir()
    result = climb(
        candidates,
        job,
        folder,
        inputs.suffix,
        reached=budget.met,
        patience=FALLBACK_PATIENCE,
        baseline=start,
    )
    stops = tuple(f"{strategy} ladder: {stop}" for stop in result.stops)
    return dataclasses.replace(result, stops=stops)


def _preference(result: LadderResult[Int8Setting], budget: ErrorBudget) -> tuple[Any, ...]:
    """Larger is better: within budget first, then fewer float layers, then closer to Keras."""
    within = budget.met(result.chosen_attempt) and result.chosen_attempt.metric_passed is not False
    if within:
        return (1, -len(result.chosen.setting.float_layers), closeness(result.chosen_attempt))
    return (0, closeness(result.chosen_attempt), -len(result.chosen.setting.float_layers))


def float_fallback(
    strategy: str,
    inputs: FallbackInputs,
    job: ConversionInput,
    int8: LadderResult[Int8Setting],
    budget: ErrorBudget,
) -> tuple[LadderResult[Int8Setting], dict[str, Any]]:
    """Run the `strategy` ladder(s) ("worst", "prefix" or "auto": both) and keep the best result;
    the int8 result stays if no ladder does better. Returns the kept result (with every attempt
    and every early stop)
    and the card's notes: budget, strategy kept and why, the kept layers, the debugger's worst
    layer, and each ladder's outcome."""
    tried = {
        name: result
        for name in (FALLBACK_STRATEGIES if strategy == "auto" else (strategy,))
        if (result := _ladder(name, inputs, job, budget, int8.chosen_attempt)) is not None
    }
    kept_name, kept = "int8", int8
    for name, result in tried.items():
        if _preference(result, budget) > _preference(kept, budget):
            kept_name, kept = name, result
    notes: dict[str, Any] = {**budget.notes(), "float_fallback": _why(kept_name, tried, budget)}
    setting = kept.chosen.setting
    if setting.float_layers:
        notes["layers_kept_float"] = [short_layer_name(n) for n in setting.float_layers]
    worst = max(inputs.layers, key=lambda layer: layer[1])
    notes["debugger_worst_rmse_over_scale"] = {
        "layer": short_layer_name(worst[0]),
        "value": round(worst[1], 3),
    }
    attempts = int8.attempts + tuple(a for r in tried.values() for a in r.attempts)
    failures = int8.failures + tuple(f for r in tried.values() for f in r.failures)
    stops = int8.stops + tuple(s for r in tried.values() for s in r.stops)
    merged = LadderResult(kept.chosen, kept.path, kept.chosen_attempt, attempts, failures, stops)
    return merged, notes


def _why(
    kept: str, tried: dict[str, LadderResult[Int8Setting]], budget: ErrorBudget
) -> dict[str, Any]:
    """The card's record of the fallback: the strategy kept, one line why, each ladder's result."""
    outcomes = {
        name: {
            "float_layers": len(result.chosen.setting.float_layers),
            "within_budget": budget.met(result.chosen_attempt),
            "calibration_set_mean_abs_diff": round(result.chosen_attempt.mean_abs_diff, 6),
            "calibration_set_max_abs_diff": round(result.chosen_attempt.max_abs_diff or 0.0, 6),
        }
        for name, result in tried.items()
    }
    if kept == "int8":
        reason = "no float fallback came closer to Keras than plain int8"
    elif outcomes[kept]["within_budget"]:
        others = [n for n, o in outcomes.items() if n != kept and o["within_budget"]]
        reason = (
            f"within budget with the fewest float layers ({outcomes[kept]['float_layers']})"
            if others
            else "the only strategy within budget"
            if len(outcomes) > 1
            else "within budget"
        )
    else:
        reason = "no strategy met the budget; the closest to Keras is kept"
    return {"strategy": kept, "reason": reason, "ladders": outcomes}
