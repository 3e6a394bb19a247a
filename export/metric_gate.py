"""Gate a variant on the user's own metric: keep it only if that metric, on labelled images, is
within an allowed drop of the full model's (as NNCF's accuracy control does: absolute or relative).

Top-1 agreement stays the first gate; this one catches a variant that keeps most decisions but
loses the ones that matter (sensitivity, say) or ranks patients worse (AUROC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from edgexray_export.errors import ExportError

from edgexray.card import ModelCard
from edgexray.metrics import TASK_METRICS, task_metric
from edgexray.postprocess import decide

DROP_MODES = ("absolute", "relative")
_SLACK = 1e-9  # a drop equal to the allowance passes despite float rounding


@dataclass(frozen=True)
class MetricCheck:
    """The metric of the full model and of the variant, the drop, and the verdict."""

    metric: str
    reference: float
    variant: float
    drop: float
    passed: bool


@dataclass(frozen=True)
class MetricGate:
    """metric: accuracy, sensitivity, specificity, f1 or auroc (binary: of the positive class;
    more classes: macro). max_drop: how much lower the variant's metric may be, >= 0; absolute
    (0.01 = one point) or relative to the full model's value (0.01 = 1% of it)."""

    metric: str
    max_drop: float
    drop_mode: str = "absolute"

    def __post_init__(self) -> None:
        if self.metric not in TASK_METRICS:
            raise ExportError(
                f"unknown metric {self.metric!r}; expected one of {', '.join(TASK_METRICS)}"
            )
        if self.drop_mode not in DROP_MODES:
            raise ExportError(
                f"unknown drop mode {self.drop_mode!r}; expected one of {', '.join(DROP_MODES)}"
            )
        if not 0.0 <= self.max_drop <= 1.0:
            raise ExportError(f"max drop must be between 0 and 1, got {self.max_drop}")

    def describe(self) -> str:
        """E.g. 'sensitivity drop <= 0.01' or 'auroc drop <= 1% of the full model's'."""
        if self.drop_mode == "relative":
            return f"{self.metric} drop <= {self.max_drop:.2%} of the full model's"
        return f"{self.metric} drop <= {self.max_drop:g}"

    def drop(self, reference: float, variant: float) -> float:
        """How much lower the variant is, in the gate's mode (negative when it is better)."""
        lost = reference - variant
        if self.drop_mode == "absolute":
            return lost
        return lost / reference if reference > 0 else (0.0 if lost <= 0 else float("inf"))

    def check(
        self,
        reference: np.ndarray,
        variant: np.ndarray,
        truth: np.ndarray,
        card: ModelCard,
        variant_card: ModelCard | None = None,
    ) -> MetricCheck:
        """The gate on probabilities (N, labels) of the full model and the variant, with the true
        class per image; decisions follow each one's card (variant_card: default `card`)."""
        ref = task_metric(self.metric, truth, decide(reference, card), reference)
        var = task_metric(self.metric, truth, decide(variant, variant_card or card), variant)
        drop = self.drop(ref, var)
        return MetricCheck(self.metric, ref, var, drop, drop <= self.max_drop + _SLACK)

    def parity_fields(self, check: MetricCheck) -> dict[str, Any]:
        """The Parity fields that record this gate and its verdict."""
        return {
            "metric": self.metric,
            "metric_max_drop": self.max_drop,
            "metric_drop_mode": self.drop_mode,
            "metric_reference": check.reference,
            "metric_variant": check.variant,
            "metric_passed": check.passed,
        }
