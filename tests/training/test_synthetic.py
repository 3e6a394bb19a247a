"""The synthetic radiograph generator: deterministic by seed, balanced, the promised formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgexray_export.data.synthetic import (
    BINARY_CLASSES,
    THREE_CLASSES,
    SynthConfig,
    generate_image,
    write_dataset,
)
from edgexray_export.errors import ExportError
from PIL import Image

SMALL = dict(min_side=48, max_side=96)


def test_same_seed_gives_identical_images() -> None:
    config = SynthConfig(classes=THREE_CLASSES, seed=7, **SMALL)
    for name in THREE_CLASSES:
        first, again = generate_image(name, 3, config), generate_image(name, 3, config)
        assert np.array_equal(first.pixels, again.pixels)
        assert first.file_format == again.file_format


def test_other_seed_or_index_gives_other_images() -> None:
    a = generate_image("NORMAL", 0, SynthConfig(seed=1, min_side=64, max_side=64))
    b = generate_image("NORMAL", 0, SynthConfig(seed=2, min_side=64, max_side=64))
    c = generate_image("NORMAL", 1, SynthConfig(seed=1, min_side=64, max_side=64))
    assert not np.array_equal(a.pixels, b.pixels)
    assert not np.array_equal(a.pixels, c.pixels)


def test_an_image_does_not_depend_on_the_count() -> None:
    few = generate_image("PNEUMONIA", 2, SynthConfig(count=3, **SMALL))
    many = generate_image("PNEUMONIA", 2, SynthConfig(count=50, **SMALL))
    assert np.array_equal(few.pixels, many.pixels)


def test_sizes_and_aspect_ratios_stay_in_range() -> None:
    config = SynthConfig(min_side=60, max_side=120, min_aspect=0.8, max_aspect=1.25)
    shapes = [generate_image("NORMAL", i, config).pixels.shape for i in range(20)]
    assert all(60 <= max(shape) <= 120 for shape in shapes)
    assert all(0.78 <= h / w <= 1.27 for h, w in shapes)
    assert len(set(shapes)) > 10  # sizes vary


def test_pixels_are_unit_range_with_real_contrast() -> None:
    image = generate_image("COVID", 0, SynthConfig(classes=THREE_CLASSES, **SMALL)).pixels
    assert image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() - image.min() > 0.5


def test_dataset_is_balanced_with_8bit_16bit_and_jpeg_files(tmp_path: Path) -> None:
    config = SynthConfig(classes=BINARY_CLASSES, count=12, seed=3, **SMALL)
    files = write_dataset(tmp_path, config)
    assert len(files) == 24
    for name in BINARY_CLASSES:
        assert len(list((tmp_path / name).iterdir())) == 12
    modes = {(f.suffix, Image.open(f).mode) for f in files}
    assert (".png", "L") in modes
    assert (".png", "I;16") in modes
    assert (".jpg", "L") in modes


def test_parallel_writing_gives_the_same_files(tmp_path: Path) -> None:
    config = SynthConfig(count=4, seed=5, **SMALL)
    serial = write_dataset(tmp_path / "a", config)
    parallel = write_dataset(tmp_path / "b", config, workers=2)
    assert [f.relative_to(tmp_path / "a") for f in serial] == [
        f.relative_to(tmp_path / "b") for f in parallel
    ]
    png = next(f for f in serial if f.suffix == ".png")
    twin = tmp_path / "b" / png.relative_to(tmp_path / "a")
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(twin)))


@pytest.mark.parametrize(
    "changes",
    [
        dict(classes=("NORMAL",)),
        dict(classes=("NORMAL", "TUBERCULOSIS")),
        dict(count=0),
        dict(min_side=200, max_side=100),
        dict(png16_fraction=0.8, jpeg_fraction=0.5),
        dict(difficulty=0),
    ],
)
def test_bad_configuration_is_refused(changes: dict) -> None:
    with pytest.raises(ExportError):
        SynthConfig(**changes)


def test_lesion_masks_leave_the_pixels_unchanged() -> None:
    from edgexray_export.data.synthetic import render, render_with_lesion

    for name in ("NORMAL", "PNEUMONIA", "COVID"):
        plain = render(name, np.random.default_rng(7), 96, 80)
        pixels, lesion = render_with_lesion(name, np.random.default_rng(7), 96, 80)
        assert np.array_equal(plain, pixels)
        if name == "NORMAL":
            assert lesion is None
        else:
            assert lesion is not None and lesion.shape == (96, 80)
            assert 0 < lesion.mean() < 0.5
    image = generate_image("PNEUMONIA", 1, SynthConfig(**SMALL))
    assert image.lesion is not None and image.lesion.shape == image.pixels.shape
