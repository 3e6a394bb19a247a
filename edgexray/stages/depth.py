"""The 16-bit range stage: which depth a 16-bit grey file was read at (its PNG sBIT chunk, or its
data's range; edgexray.preprocessing.depth), recorded in every mode; in the checking modes, a file
whose range still spans almost nothing once read is refused for that reason, before the image
checks would call it nearly uniform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from edgexray.inputcheck.facts import ImageFacts
from edgexray.inputcheck.result import Finding
from edgexray.stages.stage import EVERY_MODE, FactsStage, Outcome, Setup

#: Fewer 8-bit grey levels than this between a 16-bit file's darkest and brightest pixel, once
#: read at its depth, is no picture (a radiograph spans 100 or more).
MIN_LEVELS = 8.0


@dataclass(frozen=True)
class DepthStage(FactsStage):
    """Records a 16-bit grey file's depth policy (note `depth`); refuses its range (finding
    `depth`) when it spans fewer than MIN_LEVELS grey levels."""

    name: ClassVar[str] = "depth"
    modes: ClassVar[frozenset[str]] = EVERY_MODE

    @classmethod
    def configure(cls, setup: Setup) -> DepthStage:
        return cls()

    def reads(self, facts: ImageFacts) -> bool:
        return facts.depth is not None

    def judge(self, facts: ImageFacts) -> Outcome:
        depth = facts.depth
        if depth is None:
            return Outcome()
        if depth.levels >= MIN_LEVELS:
            return Outcome(note=depth.to_record())
        reason = (
            f"16-bit image spans {depth.levels:.1f} grey levels at its {depth.bits}-bit depth "
            f"(values {depth.low}..{depth.high}): nothing to read"
        )
        found = Finding(self.name, reason, depth.levels, MIN_LEVELS)
        return Outcome((found,), note=depth.to_record())
