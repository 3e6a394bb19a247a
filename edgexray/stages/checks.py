"""The stages of the checks every model has or its card carries: the image checks, the orientation
and appearance checks (before the engine) and the model check (after it)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from edgexray.errors import ModelError
from edgexray.inputcheck.facts import ImageFacts
from edgexray.inputcheck.image import check_image
from edgexray.inputcheck.result import Finding
from edgexray.inputcheck.thresholds import ImageCheckThresholds
from edgexray.modelcheck import (
    ModelCheckSummary,
    appearance_finding,
    model_check_finding,
    score_features,
)
from edgexray.modelcheck.orientation import OrientationSummary
from edgexray.stages.stage import CHECKING_MODES, FactsStage, Look, Outcome, Phase, Setup


def _scored(
    name: str, summary: ModelCheckSummary, score: float, finding: Finding | None
) -> Outcome:
    """The outcome of a check scored against a card summary: its finding (None: it passed), and
    the score and threshold as the input check's `<name>_score` and `<name>_threshold`."""
    scores = {f"{name}_score": round(score, 4), f"{name}_threshold": summary.threshold}
    return Outcome(() if finding is None else (finding,), scores)


@dataclass(frozen=True)
class ImageStage(FactsStage):
    """The image checks (edgexray.inputcheck), for every model, on the decode's facts."""

    thresholds: ImageCheckThresholds
    name: ClassVar[str] = "image"
    modes: ClassVar[frozenset[str]] = CHECKING_MODES

    @classmethod
    def configure(cls, setup: Setup) -> ImageStage:
        return cls(setup.thresholds)

    def judge(self, facts: ImageFacts) -> Outcome:
        return Outcome(check_image(facts, self.thresholds))


@dataclass(frozen=True)
class _SummaryStage:
    """A check scored against a summary the card carries (`card_field`), in the checking modes."""

    summary: ModelCheckSummary
    modes: ClassVar[frozenset[str]] = CHECKING_MODES
    card_field: ClassVar[str]

    @classmethod
    def _summary(cls, setup: Setup) -> ModelCheckSummary | None:
        summary: ModelCheckSummary | None = getattr(setup.card, cls.card_field)
        return summary


class _OnLayout(ABC):
    """A stage on the model input's coarse layout (Look.layout, made once for every such stage),
    before the engine."""

    phase: ClassVar[Phase] = "decoded"

    def applies(self, look: Look) -> bool:
        return look.x is not None

    def run(self, look: Look) -> Outcome:
        layout = look.layout
        return Outcome() if layout is None else self.judge(layout)

    @abstractmethod
    def judge(self, layout: np.ndarray) -> Outcome:
        """The stage's outcome on the layout (GRID * GRID,) of the model input."""


@dataclass(frozen=True)
class OrientationStage(_OnLayout):
    """The orientation check (card field `orientation_check`, schema 4): an input that matches the
    calibration images' layout better inverted or turned over is refused as such, before the
    appearance check would call it merely unlike them. Its scores are kept in its note."""

    summary: OrientationSummary
    name: ClassVar[str] = "orientation"
    modes: ClassVar[frozenset[str]] = CHECKING_MODES

    @classmethod
    def configure(cls, setup: Setup) -> OrientationStage | None:
        summary = setup.card.orientation_check
        return None if summary is None else cls(summary)

    def judge(self, layout: np.ndarray) -> Outcome:
        scores, finding = self.summary.finding(layout)
        return Outcome(() if finding is None else (finding,), note=scores)


@dataclass(frozen=True)
class AppearanceStage(_OnLayout, _SummaryStage):
    """The appearance check (card field `appearance_check`): the model input's coarse layout,
    before inference, so that an input laid out unlike the calibration images is not run."""

    name: ClassVar[str] = "appearance"
    card_field: ClassVar[str] = "appearance_check"

    @classmethod
    def configure(cls, setup: Setup) -> AppearanceStage | None:
        summary = cls._summary(setup)
        return None if summary is None else cls(summary)

    def judge(self, layout: np.ndarray) -> Outcome:
        return _scored(self.name, self.summary, *appearance_finding(self.summary, layout))


@dataclass(frozen=True)
class ModelStage(_SummaryStage):
    """The model check (card field `model_check`, schema 2): the input's pooled features, which
    the engine returns with the prediction."""

    name: ClassVar[str] = "model"
    phase: ClassVar[Phase] = "decided"
    card_field: ClassVar[str] = "model_check"

    @classmethod
    def configure(cls, setup: Setup) -> ModelStage | None:
        """The stage when the card has a model check; ModelError when the card's summary and the
        engine's features output disagree (a card that is not this file's)."""
        summary = cls._summary(setup)
        if summary is None:
            return None
        if setup.feature_width != summary.feature_dim:
            found = (
                "no features output"
                if setup.feature_width is None
                else f"{setup.feature_width} features"
            )
            raise ModelError(
                f"{setup.model}: the card's model check reads {summary.feature_dim} pooled "
                f"features; the model has {found}"
            )
        return cls(summary)

    def applies(self, look: Look) -> bool:
        return look.features is not None

    def run(self, look: Look) -> Outcome:
        if look.features is None:
            return Outcome()
        score = float(score_features(self.summary, look.features[None])[0])
        return _scored(self.name, self.summary, score, model_check_finding(self.summary, score))
