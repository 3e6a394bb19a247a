"""What a stage is, what it sees of one input and what it gives back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from edgexray.card import ModelCard
from edgexray.inputcheck.facts import ImageFacts
from edgexray.inputcheck.result import INPUT_CHECK_MODES, Finding
from edgexray.inputcheck.thresholds import ImageCheckThresholds
from edgexray.modelcheck.appearance import appearance_features

#: decoded: before the engine, on the decode's facts and the model input; decided: after the
#: engine, on the input's pooled features.
Phase = Literal["decoded", "decided"]
#: The modes in which a check runs that can refuse an image; `off` runs none of them.
CHECKING_MODES = frozenset({"strict", "warn"})
#: Every mode: a stage that records how the input was read, whatever the checks.
EVERY_MODE = frozenset(INPUT_CHECK_MODES)


@dataclass(frozen=True)
class Look:
    """What a stage sees of one input. facts: its one decode's facts (None after the engine);
    x: the model input (None after the engine); features: its pooled features (after the engine);
    layout: the model input's coarse layout (appearance_features), made once for the stages that
    read it (the orientation and appearance checks), None without a model input."""

    facts: ImageFacts | None = None
    x: np.ndarray | None = None
    features: np.ndarray | None = None

    @cached_property
    def layout(self) -> np.ndarray | None:
        return None if self.x is None else appearance_features(self.x[None])[0]


@dataclass(frozen=True)
class Outcome:
    """What a stage found on one input. findings: its failed checks (the mode decides what they
    cost); scores: the input check's fields it sets (e.g. model_score, model_threshold); note: a
    record of its own, kept in the input check's record under the stage's name (None: nothing)."""

    findings: tuple[Finding, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    note: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Setup:
    """What stages are configured from, once per model. card: the resolved card; thresholds: the
    image checks' (ClassifierOptions.image_checks); feature_width: the width of the engine's
    pooled-features output (None without one); model: the model file's name, for messages."""

    card: ModelCard
    thresholds: ImageCheckThresholds
    feature_width: int | None
    model: str


class Stage(Protocol):
    """One check of the pipeline. name: its short name (also the key of its note); phase: when it
    runs; modes: the input-check modes it runs in; summary: the card summary it applies (None when
    it applies none)."""

    @property
    def name(self) -> str: ...

    @property
    def phase(self) -> Phase: ...

    @property
    def modes(self) -> frozenset[str]: ...

    @property
    def summary(self) -> Any: ...

    def applies(self, look: Look) -> bool:
        """Whether this input is one the stage looks at."""
        ...

    def run(self, look: Look) -> Outcome:
        """The stage's outcome on this input."""
        ...


class FactsStage(ABC):
    """A stage on the decode's facts, before the engine, that applies no card summary: a subclass
    names itself and its modes, says which facts it reads (`reads`: all by default) and what it
    finds in them (`judge`)."""

    name: ClassVar[str]
    modes: ClassVar[frozenset[str]]
    phase: ClassVar[Phase] = "decoded"
    summary: ClassVar[None] = None

    def applies(self, look: Look) -> bool:
        return look.facts is not None and self.reads(look.facts)

    def reads(self, facts: ImageFacts) -> bool:
        """Whether this input (by its facts) is one the stage looks at."""
        return True

    def run(self, look: Look) -> Outcome:
        return Outcome() if look.facts is None else self.judge(look.facts)

    @abstractmethod
    def judge(self, facts: ImageFacts) -> Outcome:
        """The stage's outcome on an input with these facts."""
