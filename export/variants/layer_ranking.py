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


#: Blocks of consecutive layers ranked by the "blocks" fallback (as many as prefix steps).
RANKED_BLOCKS = 8


@dataclass(frozen=True)
class LayerRanking:
    """The plain int8 model's mean |dp| and each group's contribution to it (key -> value).

    A group is one layer (key: its tensor name) or a block of consecutive layers (key: "block N",
    its layers in `members`). Keeping a group in float removes its layers' arithmetic error and the
    rounding of activations passed between them; its last output is still rounded for the next int8
    layer, which is why a block can help where each of its layers alone does not.
    """

    baseline_mean_abs_diff: float
    contributions: Mapping[str, float]
    images: int
    members: Mapping[str, tuple[str, ...]] | None = None

    def worst_first(self) -> tuple[str, ...]:
        """Keys of the groups whose float computation lowers the final error, largest
        contribution first (execution order breaks ties)."""
        order = {name: i for i, name in enumerate(self.contributions)}
        helpful = [name for name, value in self.contributions.items() if value > 0]
        return tuple(sorted(helpful, key=lambda n: (-self.contributions[n], order[n])))

    def worst_groups(self) -> tuple[tuple[str, ...], ...]:
        """The layers of each helpful group, worst group first."""
        return tuple(
            self.members[key] if self.members is not None else (key,) for key in self.worst_first()
        )


def subset(job: ConversionInput, count: int) -> ConversionInput:
    """`job` with only its first `count` calibration images (and their references and labels)."""
    truth = job.calibration_truth
    return dataclasses.replace(
        job,
        calibration=job.calibration[:count],
        calibration_reference=job.calibration_reference[:count],
        calibration_truth=None if truth is None else truth[:count],
    )


def _rank(
    groups: Mapping[str, tuple[str, ...]],
    write: Callable[[Int8Setting, Path], None],
    job: ConversionInput,
    folder: Path,
    images: int,
) -> tuple[float, dict[str, float], int]:
    """(plain int8 mean |dp|, contribution per group key, images used)."""
    small = subset(job, images)
    folder.mkdir(parents=True, exist_ok=True)
    base_path = folder / "int8.tflite"
    write(Int8Setting(float_ops=OUTPUT_OPS), base_path)
    baseline = ladder.measure(base_path, small, "int8").mean_abs_diff
    contributions: dict[str, float] = {}
    for i, (key, names) in enumerate(groups.items()):
        path = folder / f"group{i}.tflite"
        write(Int8Setting(float_ops=OUTPUT_OPS, float_layers=names), path)
        contributions[key] = baseline - ladder.measure(path, small, key).mean_abs_diff
        path.unlink()
    return baseline, contributions, len(small.calibration)


def _rankable(layers: Sequence[tuple[str, str]]) -> list[str]:
    """The output activation stays float in every model, as in the shipped file: not ranked."""
    return [name for name, op_type in layers if op_type not in OUTPUT_OPS]


def rank_layers(
    layers: Sequence[tuple[str, str]],
    write: Callable[[Int8Setting, Path], None],
    job: ConversionInput,
    folder: Path,
    images: int = RANKING_IMAGES,
) -> LayerRanking:
    """Contribution of each of `layers` ((tensor name, op type), execution order) to the final
    error, with only that layer in float, on the first `images` calibration images."""
    groups = {name: (name,) for name in _rankable(layers)}
    baseline, contributions, used = _rank(groups, write, job, folder, images)
    return LayerRanking(baseline, contributions, used)


def rank_blocks(
    layers: Sequence[tuple[str, str]],
    write: Callable[[Int8Setting, Path], None],
    job: ConversionInput,
    folder: Path,
    blocks: int = RANKED_BLOCKS,
    images: int = RANKING_IMAGES,
) -> LayerRanking:
    """Contribution of each of `blocks` runs of consecutive layers (near-equal sizes, execution
    order) to the final error, with only that block in float."""
    names = _rankable(layers)
    count = min(blocks, len(names))
    bounds = [len(names) * k // count for k in range(count + 1)] if count else [0]
    groups = {
        f"block {k + 1} of {count}": tuple(names[bounds[k] : bounds[k + 1]]) for k in range(count)
    }
    baseline, contributions, used = _rank(groups, write, job, folder, images)
    return LayerRanking(baseline, contributions, used, groups)
