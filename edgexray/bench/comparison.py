"""What a variant is compared with: the full model's probabilities on (some of) the data images.

Either saved by `edgexray export` as `<name>.reference.json` beside the variants (found
automatically, or given with --reference), matched to the data images by the SHA-256 of their bytes,
so the folder layout may differ from the one used at export; or measured now from the Keras model.
When neither covers the data (a device benching its own images), the most exact variant measured
(fp32, else fp16) stands in, and every report names it: "agreement vs tflite-fp32".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgexray.card import ModelCard
from edgexray.errors import ModelError
from edgexray.reference import file_sha256, read_reference

FULL_MODEL = "full model"
# Variants exact enough to stand in for the full model, most exact first (a card's variant name
# ending). Quantized ones are what is being judged, so they never judge the others.
_STAND_IN_PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class Comparison:
    """The full model's probabilities (len(indices), labels) for the data images at `indices`.

    source: where they come from, for reports (a file path, or the Keras row name).
    against: what they are, in a few words for column titles ("full model", or the name of the
    variant row that stands in for it). stand_in: True when `against` is a variant standing in for
    a full model no reference covered.
    """

    indices: np.ndarray
    probabilities: np.ndarray
    source: str
    against: str = FULL_MODEL
    stand_in: bool = False

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.probabilities) or len(self.indices) == 0:
            raise ValueError("a comparison needs one probability row per image, and some images")

    @property
    def images(self) -> int:
        return len(self.indices)


def find_reference(models: list[Path], cards: list[ModelCard]) -> Path | None:
    """`<card.name>.reference.json` beside any of the models, else the only `*.reference.json`
    beside the first model, else None."""
    for model, card in zip(models, cards, strict=True):
        candidate = model.parent / f"{card.name}.reference.json"
        if candidate.is_file():
            return candidate
    found = sorted(models[0].parent.glob("*.reference.json")) if models else []
    return found[0] if len(found) == 1 else None


def comparison_from_reference(
    path: Path, files: tuple[Path, ...], labels: tuple[str, ...]
) -> Comparison | None:
    """The saved reference probabilities of those `files` it holds (matched by SHA-256), or None
    when it holds none of them. ModelError when its labels differ from the model's."""
    reference = read_reference(path)
    if reference.labels != tuple(labels):
        raise ModelError(
            f"reference {path} is for labels {list(reference.labels)}, the models have {list(labels)}"
        )
    by_hash = {
        image.sha256: row
        for image, row in zip(reference.images, reference.probabilities, strict=True)
    }
    indices, rows = [], []
    for i, file in enumerate(files):
        row = by_hash.get(file_sha256(file))
        if row is not None:
            indices.append(i)
            rows.append(row)
    if not indices:
        return None
    return Comparison(np.array(indices, dtype=np.int64), np.array(rows), str(path))


def comparison_from_probabilities(
    probabilities: np.ndarray, source: str, against: str = FULL_MODEL, stand_in: bool = False
) -> Comparison:
    """All data images, with the probabilities of the full model (or of the variant `against`
    standing in for it) measured now."""
    return Comparison(
        np.arange(len(probabilities)), np.asarray(probabilities), source, against, stand_in
    )


def stand_in_rank(variant: str) -> int | None:
    """0 for an fp32 variant, 1 for fp16 (by the card's variant name), None for any other."""
    for rank, precision in enumerate(_STAND_IN_PRECISIONS):
        if variant.endswith(precision):
            return rank
    return None


def most_exact(variants: Sequence[str]) -> int | None:
    """The index, among card variant names, of the one that stands in for the full model: the
    first fp32, else the first fp16; None when there is neither."""
    ranked = [(rank, i) for i, v in enumerate(variants) if (rank := stand_in_rank(v)) is not None]
    return min(ranked)[1] if ranked else None
