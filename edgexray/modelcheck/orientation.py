"""The orientation check: is an input a film like the calibration images, but turned upside down or
with its polarity inverted?

Both are relative questions, so they need no estimate of how far a chest may lie from the
calibration images (which a handful of images cannot give): on the appearance check's coarse layout
(edgexray.modelcheck.appearance, standardised per image), an inverted film's layout is the
negative of the upright one's, and an upside-down film's is the upright one's with its rows
reversed. The card's summary (card field `orientation_check`, schema 4) carries

- `template`: the calibration images' mean layout. An input whose layout correlates negatively with
  it (`polarity` below `polarity_threshold`, 0 unless the fit says otherwise) matches the
  calibration images better with black and white swapped: refused as inverted.
- `weights`: one direction in layout space per half of the film (left columns, right columns)
  along which the calibration layouts and their row-reversed copies fall on opposite sides: the
  part of the template that changes when it is turned over, each block weighted by how
  consistently the calibration images agree on it, scaled so that the calibration images' mean
  projection is 1 (a turned-over one's is then -1). `turn` is the larger of the two halves'
  projections: a film is upside down only when both halves read turned over, so an opacity in
  one lung (which can look like the heart turned up) does not turn an upright film over. `turn`
  below `turn_threshold` is refused as upside down.

Fitted at export (edgexray_export.model_check_fit.fit_orientation_check); numpy only here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from edgexray.errors import CardError
from edgexray.inputcheck.result import Finding
from edgexray.modelcheck.appearance import GRID
from edgexray.modelcheck.summary import decode_array

INVERTED_REASON = (
    "polarity inverted: it matches the calibration images better with black and white swapped"
)
UPSIDE_DOWN_REASON = "upside down: it matches the calibration images better turned over"


#: The halves of the film the turn is read on: the layout's left and right columns.
HALVES = 2


def turned_over(layouts: np.ndarray) -> np.ndarray:
    """(N, GRID * GRID) layouts with their rows reversed: the layouts of the films upside down."""
    return np.asarray(layouts).reshape(len(layouts), GRID, GRID)[:, ::-1].reshape(len(layouts), -1)


def orientation_scores(
    layouts: np.ndarray, template: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(polarity, turn) of (N, GRID * GRID) layouts: their correlation with `template` (a mean
    layout, any scale), and the larger of their projections on each half's `weights` (HALVES,
    GRID * GRID). The one scoring of the check: the device's, and export's on each left-out
    calibration image when it sets the thresholds."""
    layouts = np.asarray(layouts, dtype=np.float64)
    unit = np.asarray(template, dtype=np.float64)
    unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
    polarity = layouts @ unit / math.sqrt(GRID * GRID)
    turn = (layouts @ np.asarray(weights, dtype=np.float64).T).max(axis=1)
    return polarity, turn


@dataclass(frozen=True)
class OrientationSummary:
    """The orientation check's card summary.

    template: encoded (GRID * GRID,) array, weights: encoded (HALVES, GRID * GRID) array
    (edgexray.modelcheck.summary.encode_array).
    polarity_threshold: an input whose correlation with the template is below it is inverted.
    turn_threshold: an input whose projection on `weights` (scaled so that the calibration images
    average 1) is below it is upside down; None: the fit found the calibration images' layouts
    too symmetric to tell, and the turn is not checked. images: the calibration images it was
    fitted on; augmented_images: the variants of them drawn at export to set the thresholds
    (0: none). notes: how the thresholds were set (for people).
    """

    template: dict[str, Any]
    weights: dict[str, Any]
    polarity_threshold: float
    turn_threshold: float | None
    images: int
    augmented_images: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def require(ok: bool, message: str) -> None:
            if not ok:
                raise CardError(f"invalid model card: orientation_check {message}")

        shapes = {"template": (GRID * GRID,), "weights": (HALVES, GRID * GRID)}
        for name, wanted in shapes.items():
            value = getattr(self, name)
            shape = tuple(value.get("shape", ())) if isinstance(value, dict) else ()
            require(shape == wanted, f"{name} must have shape {wanted}")
        for name in ("polarity_threshold", "turn_threshold"):
            value = getattr(self, name)
            require(
                (value is None and name == "turn_threshold")
                or (isinstance(value, (int, float)) and math.isfinite(value)),
                f"{name} must be a finite number",
            )
        require(self.images >= 1 and self.augmented_images >= 0, "image counts must be positive")

    @cached_property
    def decoded(self) -> tuple[np.ndarray, np.ndarray]:
        """(template, weights) as stored, float64, decoded once."""
        return (
            decode_array(self.template).astype(np.float64),
            decode_array(self.weights).astype(np.float64),
        )

    def scores(self, layouts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(polarity, turn) of (N, GRID * GRID) layouts against this summary (orientation_scores)."""
        return orientation_scores(layouts, *self.decoded)

    def finding(self, layout: np.ndarray) -> tuple[dict[str, float], Finding | None]:
        """The scores of one model input's layout (appearance_features of it, (GRID * GRID,))
        (`orientation_polarity`, `orientation_turn`) and the finding when it is inverted or
        upside down (None: neither)."""
        polarity, turn = (float(s[0]) for s in self.scores(layout[None]))
        scores = {"polarity": round(polarity, 4), "turn": round(turn, 4)}
        if not polarity >= self.polarity_threshold:
            return scores, Finding(
                "inverted", INVERTED_REASON, polarity, round(self.polarity_threshold, 4)
            )
        if self.turn_threshold is not None and not turn >= self.turn_threshold:
            return scores, Finding(
                "upside-down", UPSIDE_DOWN_REASON, turn, round(self.turn_threshold, 4)
            )
        return scores, None

    def describe(self) -> str:
        """One line for `info`."""
        turn = (
            "upside down: not checked (calibration layouts too symmetric)"
            if self.turn_threshold is None
            else f"upside down below {self.turn_threshold:.3g}"
        )
        augmented = (
            f" and {self.augmented_images} variants of them" if self.augmented_images else ""
        )
        return (
            f"inverted below {self.polarity_threshold:.3g}, {turn} "
            f"(fitted on {self.images} calibration images{augmented})"
        )
