"""What a variant is compared with: the full model's probabilities on (some of) the data images.

Either saved by `edgexray export` as `<name>.reference.json` beside the variants (found
automatically, or given with --reference), matched to the data images by the SHA-256 of their bytes,
so the folder layout may differ from the one used at export; or measured now from the Keras model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgexray.card import ModelCard
from edgexray.errors import ModelError
from edgexray.reference import file_sha256, read_reference


@dataclass(frozen=True)
class Comparison:
    """The full model's probabilities (len(indices), labels) for the data images at `indices`.

    source: where they come from, for reports (a file path, or the Keras row name).
    """

    indices: np.ndarray
    probabilities: np.ndarray
    source: str

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
) -> Comparison:
    """The saved reference probabilities of those `files` it holds (matched by SHA-256).

    ModelError when its labels differ from the model's or when it holds none of the files.
    """
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
        raise ModelError(
            f"none of the {len(files)} images in --data are among the {len(reference.images)} "
            f"images of reference {path}; point --data at the folder used at export"
        )
    return Comparison(np.array(indices, dtype=np.int64), np.array(rows), str(path))


def comparison_from_probabilities(probabilities: np.ndarray, source: str) -> Comparison:
    """All data images, with the full model's probabilities measured now."""
    return Comparison(np.arange(len(probabilities)), np.asarray(probabilities), source)
