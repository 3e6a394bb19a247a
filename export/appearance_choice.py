"""Whether the appearance check earns its place in the cards.

The appearance check (edgexray.modelcheck.appearance) refuses an input whose coarse layout is
unlike the calibration images'. Its k-NN threshold rests on half of the images, so it also refuses
some real films: 0-5% of the third-party benchmark's held-out films with 100 calibration images, in
five draws (benchmarks/THIRD_PARTY.md). That is worth paying only for inputs the other checks let
through. Export asks on the generated non-chest images the layer choice uses
(edgexray_export.model_check_layer.generated_non_chest: a hand, a knee and a skull drawn like
radiographs, the calibration films upside down and inverted): the appearance check is kept when it
refuses at least one of them that neither the model check (fitted on the Keras model's features
of the same images, as each variant's is) nor the orientation check refuses. Else it is left out,
and every variant's model check notes say why (`notes.appearance_check`, shown by `edgexray info`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgexray.modelcheck import ModelCheckSummary, model_check_finding, score_features
from edgexray.modelcheck.orientation import OrientationSummary


@dataclass(frozen=True)
class AppearanceChoice:
    """kept: the appearance check goes into the cards. refused: generated non-chest images it
    refuses; alone: those neither the model nor the orientation check refuses; images: how many
    were generated."""

    kept: bool
    refused: int
    alone: int
    images: int

    def note(self) -> str:
        """Why, in one line (export's progress, the cards' model check notes, `info`)."""
        if self.kept:
            return (
                f"kept: it alone refuses {self.alone} of {self.images} generated non-chest images "
                "that the model and orientation checks pass"
            )
        return (
            f"left out: each of the {self.refused} of {self.images} generated non-chest images it "
            "refuses is refused by the model or orientation check too, and it would refuse real "
            "films as well"
        )


def _orientation_refuses(orientation: OrientationSummary | None, layouts: np.ndarray) -> np.ndarray:
    """Per layout: refused as inverted or upside down, by the device's own decision."""
    if orientation is None:
        return np.zeros(len(layouts), dtype=bool)
    return np.array([orientation.finding(layout)[1] is not None for layout in layouts])


def _refuses(summary: ModelCheckSummary, values: np.ndarray) -> np.ndarray:
    """Per row of `values`: refused by the summary's check, by the device's own decision."""
    scores = score_features(summary, values)
    return np.array([model_check_finding(summary, float(score)) is not None for score in scores])


def choose_appearance(
    appearance: ModelCheckSummary,
    orientation: OrientationSummary | None,
    model_check: ModelCheckSummary,
    layouts: np.ndarray,
    features: np.ndarray,
) -> AppearanceChoice:
    """The choice on generated non-chest images given as their coarse layouts (N, GRID * GRID)
    and the Keras model's features of them (N, D), scored against the three checks' summaries."""
    by_appearance = _refuses(appearance, layouts)
    by_others = _refuses(model_check, features) | _orientation_refuses(orientation, layouts)
    alone = int(np.sum(by_appearance & ~by_others))
    return AppearanceChoice(
        kept=alone > 0, refused=int(np.sum(by_appearance)), alone=alone, images=len(layouts)
    )
