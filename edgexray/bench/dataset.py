"""The images a benchmark runs on, and their true classes when the folder says them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgexray.errors import ImageError
from edgexray.preprocessing import discover_images


@dataclass(frozen=True)
class BenchData:
    """files: image files, sorted. truth: class index per file into `labels`, or None when the
    folder is not sorted into class sub-folders named like the model's labels."""

    folder: Path
    files: tuple[Path, ...]
    labels: tuple[str, ...]
    truth: np.ndarray | None

    @property
    def labelled(self) -> bool:
        return self.truth is not None


def _class_of(file: Path, folder: Path, labels: tuple[str, ...]) -> str | None:
    """The deepest folder between `folder` and `file` named like a label, e.g. `test/PNEUMONIA`."""
    parents = file.relative_to(folder).parts[:-1]
    named = [part for part in parents if part in labels]
    return named[-1] if named else None


def load_bench_data(folder: Path, labels: tuple[str, ...], limit: int | None = None) -> BenchData:
    """The images under `folder` (recursively), the first `limit` of them if given.

    They are labelled when every image sits under a sub-folder named like one of `labels`
    (`data/NORMAL/x.png`, `data/test/NORMAL/x.png`). ImageError when the folder has no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"--data {folder}: not a folder")
    files = discover_images([folder]).files
    if not files:
        raise ImageError(f"--data {folder}: no images found")
    if limit is not None:
        # Every k-th file rather than the first `limit`, so a class-sorted folder keeps its classes.
        step = max(1, len(files) // limit)
        files = files[::step][:limit]
    classes = [_class_of(f, folder, labels) for f in files]
    truth = None
    if all(c is not None for c in classes):
        index = {label: i for i, label in enumerate(labels)}
        truth = np.array([index[str(c)] for c in classes], dtype=np.int64)
    return BenchData(folder, tuple(files), tuple(labels), truth)
