"""Which features the model check reads, chosen at export the way benchmarks/feature_taps.py
chooses by hand: the candidate that best separates generated non-chest images from chest films.

Candidates: the classifier head's (N, D) input, and the statistics (edgexray_export.feature_tap.
map_statistics) of every feature map (N, H, W, C with H >= 2) in the model's own graph (a nested
backbone counts as one layer, its output), but for the leading preprocessing (Rescaling and the
like), whose output is the image itself. For each, a summary is fitted on the Keras model's
features of the calibration images exactly as each variant's is (fit_model_check), and scored on:

- **generated non-chest images** of the kinds the image checks let through, at the model's input
  size: a hand, a knee and a skull drawn like radiographs (edgexray_export.data.anatomy), and the
  calibration films turned upside down and inverted;
- **the held-out parity films** (chests the summary was not fitted on).

Its *separation* is the share of the non-chest images above the threshold minus the share of the
held-out films above it. The candidate with the largest separation wins; on a tie the head's
input (the default before this choice existed), then the earlier layer. The card records the
winner, its figures and the runner-up's (`model_check.notes.layer_choice`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from edgexray_export.data.anatomy import DRAWERS
from edgexray_export.errors import ExportError
from edgexray_export.feature_tap import _tensor_of, feature_model, map_statistics
from edgexray_export.model_check_fit import ModelCheckConfig, fit_model_check
from edgexray_export.normalization import graph_operations, leading_preprocessing

from edgexray.modelcheck import ModelCheckSummary, score_features

#: The classifier head's input among the candidates (and as `--model-check-layer head-input`).
HEAD_INPUT = "head-input"
#: The generated categories the choice is made on (the image checks refuse the others).
CATEGORIES = (*DRAWERS, "chest-upside-down", "chest-inverted")


@dataclass(frozen=True)
class LayerChoiceConfig:
    """images_per_category: generated images of each of CATEGORIES (the turned chests come from
    the calibration films, at most as many as there are). seed: which drawings."""

    images_per_category: int = 8
    seed: int = 9090

    def __post_init__(self) -> None:
        if self.images_per_category < 1:
            raise ValueError("images_per_category must be at least 1")


@dataclass(frozen=True)
class Candidate:
    """One candidate's figures: separation = non_chest_refused - held_out_refused (0..1 shares)."""

    layer: str
    dims: int
    non_chest_refused: float
    held_out_refused: float

    @property
    def separation(self) -> float:
        return round(self.non_chest_refused - self.held_out_refused, 4)


@dataclass(frozen=True)
class LayerChoice:
    """The chosen candidate (`layer` None: the head's input), why, and what it was chosen on."""

    layer: str | None
    winner: Candidate
    runner_up: Candidate | None
    candidates: int
    non_chest_images: int
    held_out_images: int

    def describe(self) -> str:
        """One line: the winner and its figures, for the export's progress."""
        w = self.winner
        return (
            f"{w.layer}, chosen from {self.candidates} candidates: separation {w.separation:.2f} "
            f"({w.non_chest_refused:.0%} of {self.non_chest_images} generated non-chest images "
            f"refused, {w.held_out_refused:.0%} of {self.held_out_images} held-out films)"
        )

    def note(self) -> dict[str, Any]:
        """What the card records (model_check.notes.layer_choice)."""
        data: dict[str, Any] = {
            "chosen": "automatically, by separation of generated non-chest images",
            "layer": self.winner.layer,
            "separation": self.winner.separation,
            "non_chest_refused": round(self.winner.non_chest_refused, 4),
            "held_out_refused": round(self.winner.held_out_refused, 4),
            "non_chest_images": self.non_chest_images,
            "held_out_images": self.held_out_images,
            "candidates": self.candidates,
        }
        if self.runner_up is not None:
            data["runner_up"] = {**asdict(self.runner_up), "separation": self.runner_up.separation}
        return data


def generated_non_chest(calibration_pixels: np.ndarray, config: LayerChoiceConfig) -> np.ndarray:
    """uint8 (N, H, W, C) images of CATEGORIES at the calibration images' size: the anatomy
    drawn at that size, the calibration films (uint8 model-size pixels) upside down and inverted."""
    _, height, width, channels = calibration_pixels.shape
    count = config.images_per_category
    drawn = []
    for index, name in enumerate(DRAWERS):
        for i in range(count):
            rng = np.random.default_rng([config.seed, index, i])
            film = np.rint(np.clip(DRAWERS[name](rng, height, width), 0, 1) * 255)
            drawn.append(np.repeat(film.astype(np.uint8)[..., None], channels, axis=-1))
    films = calibration_pixels[:count]
    return np.concatenate([np.stack(drawn), films[:, ::-1], 255 - films])


def _candidate_model(model: Any) -> tuple[Any, list[str]] | None:
    """A Keras model giving every candidate's features, and the candidates' names (HEAD_INPUT
    first); None when the head does not read pooled (N, D) features (no model check)."""
    import keras

    head = feature_model(model)
    if head is None:
        return None
    names, outputs = [HEAD_INPUT], [head.outputs[1]]
    # The input and its preprocessing are the image itself: the appearance check reads that.
    skipped = {id(op) for op in leading_preprocessing(model)}
    for operation in graph_operations(model):
        if type(operation).__name__ == "InputLayer" or id(operation) in skipped:
            continue
        try:
            tensor = _tensor_of(model, operation.name)
        except ExportError:  # off the path to the output: no candidate
            continue
        if len(tensor.shape) == 4 and (tensor.shape[1] or 0) >= 2:
            names.append(operation.name)
            outputs.append(map_statistics(tensor))
    return keras.Model(model.inputs[0], outputs), names


def _outputs(candidates: Any, x: np.ndarray) -> list[Any]:
    """Every candidate's output for the batch `x`: a list even when the head's input is the only
    candidate (a one-output Keras model returns its tensor alone)."""
    outputs = candidates(x, training=False)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _features(candidates: Any, x: np.ndarray, batch_size: int = 32) -> list[np.ndarray]:
    chunks = [_outputs(candidates, x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return [
        np.concatenate([np.asarray(chunk[k], dtype=np.float32) for chunk in chunks]).reshape(
            len(x), -1
        )
        for k in range(len(chunks[0]))
    ]


def _refused(summary: ModelCheckSummary, features: np.ndarray) -> float:
    """The share of `features` (N, D) above the summary's threshold."""
    return float(np.mean(score_features(summary, features) > summary.threshold))


def choose_layer(
    model: Any,
    calibration: np.ndarray,
    held_out: np.ndarray,
    non_chest: np.ndarray,
    check: ModelCheckConfig,
) -> LayerChoice | None:
    """The candidate with the largest separation (module docstring), from model inputs (float
    N, H, W, C, preprocessed as at inference); None when the model has no pooled head input or
    the calibration images are too few for a model check."""
    built = _candidate_model(model)
    if built is None or len(calibration) < check.min_images:
        return None
    candidates, names = built
    fitted = _features(candidates, calibration)
    held = _features(candidates, held_out)
    strange = _features(candidates, non_chest)
    scored: list[Candidate] = []
    for name, fit, chest, other in zip(names, fitted, held, strange, strict=True):
        summary = fit_model_check(fit, check)
        if summary is not None:
            scored.append(
                Candidate(name, fit.shape[1], _refused(summary, other), _refused(summary, chest))
            )
    if not scored:
        return None
    ranked = sorted(scored, key=lambda c: -c.separation)  # stable: ties keep the graph order
    winner = ranked[0]
    return LayerChoice(
        layer=None if winner.layer == HEAD_INPUT else winner.layer,
        winner=winner,
        runner_up=ranked[1] if len(ranked) > 1 else None,
        candidates=len(scored),
        non_chest_images=len(non_chest),
        held_out_images=len(held_out),
    )
