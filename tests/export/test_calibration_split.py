"""Calibration and parity image selection: stratified, seeded, disjoint (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgexray_export.calibration import split_images
from edgexray_export.errors import ExportError
from PIL import Image


def _images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(folder / f"{i:03d}.png")


@pytest.fixture
def unbalanced(tmp_path: Path) -> Path:
    _images(tmp_path / "COVID" / "batch1", 10)  # nested deeper: still class COVID
    _images(tmp_path / "NORMAL", 20)
    _images(tmp_path / "PNEUMONIA", 30)
    return tmp_path


def _count(images: tuple, name: str) -> int:
    return sum(image.class_name == name for image in images)


def test_stratified_by_class_folder_and_disjoint(unbalanced: Path) -> None:
    split = split_images(unbalanced, 30)
    assert split.class_names == ("COVID", "NORMAL", "PNEUMONIA")
    chosen = split.calibration + split.parity
    assert len(chosen) == 30 and not split.overlapping
    assert [_count(chosen, c) for c in split.class_names] == [5, 10, 15]  # proportional
    assert [_count(split.parity, c) for c in split.class_names] == [2, 5, 8]  # half of each
    assert not {i.path for i in split.calibration} & {i.path for i in split.parity}
    assert all(i.relative.startswith(i.class_name + "/") for i in chosen)


def test_sampling_is_deterministic_and_seeded(unbalanced: Path) -> None:
    assert split_images(unbalanced, 30) == split_images(unbalanced, 30)
    assert split_images(unbalanced, 30, seed=1) != split_images(unbalanced, 30)


def test_size_larger_than_folder_takes_everything(unbalanced: Path) -> None:
    split = split_images(unbalanced, 1000)
    assert len(split.calibration) + len(split.parity) == 60


def test_small_folder_is_used_for_both_sets(tmp_path: Path) -> None:
    _images(tmp_path / "A", 3)
    _images(tmp_path / "B", 2)
    split = split_images(tmp_path, 300)
    assert split.overlapping and split.calibration == split.parity and len(split.parity) == 5


def test_images_without_class_folders(tmp_path: Path) -> None:
    _images(tmp_path, 10)
    split = split_images(tmp_path, 10)
    assert split.class_names == () and len(split.parity) == 5
    assert all(image.class_name is None for image in split.parity)


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not found"):
        split_images(tmp_path / "nope", 10)
    (tmp_path / "NORMAL").mkdir()
    (tmp_path / "NORMAL" / "notes.txt").write_text("no images here")
    with pytest.raises(ExportError, match="holds no images"):
        split_images(tmp_path, 10)
