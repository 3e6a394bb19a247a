"""The pipeline: the registry's stages configured once for one model and one input-check mode,
run on each input before and after the engine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgexray.inputcheck.facts import ImageFacts
from edgexray.inputcheck.result import InputCheck, InputCheckMode, check_mode
from edgexray.stages import registry
from edgexray.stages.registry import StageFactory
from edgexray.stages.stage import Look, Phase, Setup, Stage


@dataclass(frozen=True)
class Pipeline:
    """stages: the model's stages (those its card and engine have), in the registry's order;
    mode: the input-check mode, which decides what a finding costs and which stages run."""

    stages: tuple[Stage, ...]
    mode: InputCheckMode

    def __post_init__(self) -> None:
        check_mode(self.mode)

    @classmethod
    def configure(
        cls, setup: Setup, mode: InputCheckMode, factories: Iterable[StageFactory] | None = None
    ) -> Pipeline:
        """The stages of `factories` (default: the registry's) for this model; ModelError when its
        card does not fit it."""
        made = (configure(setup) for configure in factories or registry.STAGES)
        return cls(tuple(stage for stage in made if stage is not None), mode)

    def summary(self, name: str) -> Any:
        """The card summary the stage `name` applies, or None when this model has no such stage."""
        return next((s.summary for s in self.stages if s.name == name), None)

    @property
    def needs_features(self) -> bool:
        """Whether a stage that runs in this mode reads the engine's pooled features."""
        return any(s.phase == "decided" for s in self._running())

    def before_engine(self, facts: ImageFacts, x: np.ndarray) -> InputCheck:
        """The input check of one decoded input (its facts, its model input)."""
        return self._run("decoded", InputCheck.from_findings((), self.mode), Look(facts, x))

    def after_engine(
        self, checks: list[InputCheck], features: np.ndarray | None
    ) -> list[InputCheck]:
        """The input checks of a batch the engine ran, after the stages that read each input's
        pooled features (`features`, one row per input; None: the engine gave none)."""
        rows = [None] * len(checks) if features is None else list(features)
        return [
            self._run("decided", check, Look(features=row))
            for check, row in zip(checks, rows, strict=True)
        ]

    def _running(self) -> Iterable[Stage]:
        return (s for s in self.stages if self.mode in s.modes)

    def _run(self, phase: Phase, check: InputCheck, look: Look) -> InputCheck:
        """The stages of `phase` in order, until one refuses the input."""
        for stage in self._running():
            if check.rejected:
                break
            if stage.phase == phase and stage.applies(look):
                outcome = stage.run(look)
                notes = check.notes
                if outcome.note is not None:
                    notes = {**notes, stage.name: outcome.note}
                check = check.with_results(
                    outcome.findings, self.mode, notes=notes, **outcome.scores
                )
        return check
