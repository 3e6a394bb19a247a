"""Each quantized layer's contribution to the final error, and the layers ranked by it.

A layer's own error (TF's debugger: rmse of its int8 output) says little about what it does to the
probabilities: a noisy layer early on may be averaged away, a quiet one before the head may not.
So each layer is measured where it matters: the model is quantized with only that layer kept in
float (TF's debugger, `denylisted_nodes`, one calibration shared by every candidate) and run on
calibration images; the layer's contribution is how much the mean |dp| against Keras falls compared
with the plain int8 model (in probability units; negative when keeping it float makes things worse,
which happens because its float output is still rounded for the next int8 layer).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgexray_export.variants import ladder
from edgexray_export.variants.base import ConversionInput
from edgexray_export.variants.tflite_settings import OUTPUT_OPS, Int8Setting

#: Calibration images used to measure contributions: one model per layer is run on them, so fewer
#: images than the ladder's keep the ranking affordable (65 layers x 96 images on MobileNetV2).
RANKING_IMAGES = 96


@dataclass(frozen=True)
class LayerRanking:
    """The plain int8 model's mean |dp| and each layer's contribution to it (tensor name -> value)."""

    baseline_mean_abs_diff: float
    contributions: Mapping[str, float]
    images: int

    def worst_first(self) -> tuple[str, ...]:
        """Layers whose float computation lowers the final error, largest contribution first
        (execution order breaks ties)."""
        order = {name: i for i, name in enumerate(self.contributions)}
        helpful = [name for name, value in self.contributions.items() if value > 0]
        return tuple(sorted(helpful, key=lambda n: (-self.contributions[n], order[n])))


def subset(job: ConversionInput, count: int) -> ConversionInput:
    """`job` with only its first `count` calibration images (and their references and labels)."""
    truth = job.calibration_truth
    return dataclasses.replace(
        job,
        calibration=job.calibration[:count],
        calibration_reference=job.calibration_reference[:count],
        calibration_truth=None if truth is None else truth[:count],
    )


def rank_layers(
    layers: Sequence[tuple[str, str]],
    write: Callable[[Int8Setting, Path], None],
    job: ConversionInput,
    folder: Path,
    images: int = RANKING_IMAGES,
) -> LayerRanking:
    """Contribution of each of `layers` ((tensor name, op type), execution order) to the final
    error, measured on the first `images` calibration images. The output activation stays float in
    every model, as in the shipped file, so it is not ranked."""
    small = subset(job, images)
    folder.mkdir(parents=True, exist_ok=True)
    base_path = folder / "int8.tflite"
    write(Int8Setting(float_ops=OUTPUT_OPS), base_path)
    baseline = ladder.measure(base_path, small, "int8").mean_abs_diff
    contributions: dict[str, float] = {}
    for i, (name, op_type) in enumerate(layers):
        if op_type in OUTPUT_OPS:
            continue
        path = folder / f"layer{i}.tflite"
        write(Int8Setting(float_ops=OUTPUT_OPS, float_layers=(name,)), path)
        contributions[name] = baseline - ladder.measure(path, small, name).mean_abs_diff
        path.unlink()
    return LayerRanking(baseline, contributions, len(small.calibration))
