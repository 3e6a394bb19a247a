"""The registry: every stage, in the order the pipeline runs them. A check is added here, by one
line naming how its stage is configured from the model (its `configure`: the stage, or None when
this model has no such check)."""

from __future__ import annotations

from collections.abc import Callable

from edgexray.stages.checks import AppearanceStage, ImageStage, ModelStage, OrientationStage
from edgexray.stages.depth import DepthStage
from edgexray.stages.stage import Setup, Stage

StageFactory = Callable[[Setup], "Stage | None"]

STAGES: tuple[StageFactory, ...] = (
    DepthStage.configure,
    ImageStage.configure,
    OrientationStage.configure,
    AppearanceStage.configure,
    ModelStage.configure,
)
