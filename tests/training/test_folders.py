"""The image-folder loader: layouts, seeded stratified splits, clear errors, device preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgexray_export.data.folders import SplitConfig, load_pixels, scan_folder
from edgexray_export.errors import ExportError
from PIL import Image

from edgexray.preprocessing import Preprocessor


def _images(folder: Path, count: int, value: int = 100) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img_{i:03d}.png"
        Image.fromarray(np.full((12, 10), (value + i) % 256, np.uint8), "L").save(path)
        paths.append(path)
    return paths


def test_flat_folder_is_split_stratified_and_completely(tmp_path: Path) -> None:
    _images(tmp_path / "PNEUMONIA", 40)
    _images(tmp_path / "NORMAL", 20)
    data = scan_folder(tmp_path, SplitConfig(0.15, 0.25, seed=1))
    assert data.class_names == ("NORMAL", "PNEUMONIA")
    counts = {name: split.counts(2) for name, split in data.splits.items()}
    assert counts == {"train": [12, 24], "val": [3, 6], "test": [5, 10]}
    everything = [f for split in data.splits.values() for f in split.files]
    assert len(everything) == len(set(everything)) == 60
    for split in data.splits.values():
        for file, label in zip(split.files, split.labels, strict=True):
            assert file.parent.name == data.class_names[label]


def test_split_is_reproducible_and_depends_on_the_seed(tmp_path: Path) -> None:
    _images(tmp_path / "A", 30)
    _images(tmp_path / "B", 30)
    one = scan_folder(tmp_path, SplitConfig(seed=4)).splits["test"].files
    same = scan_folder(tmp_path, SplitConfig(seed=4)).splits["test"].files
    other = scan_folder(tmp_path, SplitConfig(seed=5)).splits["test"].files
    assert one == same
    assert one != other


def test_given_train_and_test_are_kept_and_val_is_carved_from_train(tmp_path: Path) -> None:
    for name in ("COVID", "NORMAL", "PNEUMONIA"):
        _images(tmp_path / "train" / name, 20)
        _images(tmp_path / "test" / name, 5)
    data = scan_folder(tmp_path, SplitConfig(val_fraction=0.1, seed=0))
    assert data.class_names == ("COVID", "NORMAL", "PNEUMONIA")
    assert data.splits["test"].counts(3) == [5, 5, 5]
    assert data.splits["val"].counts(3) == [2, 2, 2]
    assert data.splits["train"].counts(3) == [18, 18, 18]
    assert all("test" in f.parts for f in data.splits["test"].files)


def test_all_three_splits_given(tmp_path: Path) -> None:
    for split, n in (("train", 6), ("val", 2), ("test", 3)):
        _images(tmp_path / split / "NORMAL", n)
        _images(tmp_path / split / "PNEUMONIA", n)
    data = scan_folder(tmp_path)
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [12, 4, 6]


def test_radiography_database_layout_uses_images_not_masks(tmp_path: Path) -> None:
    for name in ("COVID", "Normal"):
        _images(tmp_path / name / "images", 10)
        _images(tmp_path / name / "masks", 10)
    data = scan_folder(tmp_path)
    files = [f for split in data.splits.values() for f in split.files]
    assert len(files) == 20
    assert all(f.parent.name == "images" for f in files)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: _images(root / "NORMAL", 5), "need at least 2"),
        (lambda root: (_images(root / "NORMAL", 5), (root / "COVID").mkdir()), "hold no images"),
        (lambda root: (_images(root / "A", 2), _images(root / "B", 9)), "too few to split"),
        (lambda root: None, "need at least 2"),
    ],
)
def test_unusable_folders_raise_one_line_errors(tmp_path: Path, make, message: str) -> None:
    make(tmp_path)
    with pytest.raises(ExportError, match=message) as caught:
        scan_folder(tmp_path)
    assert "\n" not in str(caught.value)


def test_missing_root_and_unknown_test_class(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not found"):
        scan_folder(tmp_path / "nowhere")
    _images(tmp_path / "train" / "A", 10)
    _images(tmp_path / "train" / "B", 10)
    _images(tmp_path / "test" / "A", 2)
    _images(tmp_path / "test" / "C", 2)
    with pytest.raises(ExportError, match="C are not in train"):
        scan_folder(tmp_path)


def test_pixels_are_what_the_runtime_preprocessor_gives(tmp_path: Path) -> None:
    files = _images(tmp_path / "A", 3, value=10)
    pre = Preprocessor(8, 6, color_mode="rgb")
    pixels = load_pixels(files, pre)
    assert pixels.shape == (3, 8, 6, 3) and pixels.dtype == np.uint8
    for i, file in enumerate(files):
        assert np.array_equal(pixels[i], pre.pixels(file))
