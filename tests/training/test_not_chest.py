"""The labelled non-chest set: every category, deterministic by seed, turned chests from the files
given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from edgexray_export.data.not_chest import CATEGORIES, draw_image, read_grey, write_not_chest
from edgexray_export.errors import ExportError
from PIL import Image

from edgexray.cli.main import cli


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def test_every_category_is_written_and_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    first = write_not_chest(tmp_path / "a", 1, seed=5)
    again = write_not_chest(tmp_path / "b", 1, seed=5)
    assert tuple(first) == CATEGORIES
    for category in CATEGORIES:
        assert [p.name for p in first[category]] == ["00000.png"]
        for a, b in zip(first[category], again[category], strict=True):
            with Image.open(a) as one, Image.open(b) as two:
                assert one.size == two.size and min(one.size) >= 320, category
                assert np.array_equal(_pixels(one), _pixels(two)), category


def test_another_seed_or_index_gives_another_image() -> None:
    for category in CATEGORIES:
        base = _pixels(draw_image(category, 0, seed=1))
        assert not np.array_equal(base, _pixels(draw_image(category, 0, seed=2))), category
        assert not np.array_equal(base, _pixels(draw_image(category, 1, seed=1))), category


def test_the_categories_are_what_they_say() -> None:
    grey = {c: _pixels(draw_image(c, 0, seed=3)).astype(np.float32) for c in CATEGORIES}
    assert grey["blank"].std() < 3
    assert grey["colour-photograph"].ndim == 3
    for name in ("hand", "knee", "skull"):  # bone bright on a dark background
        assert grey[name].ndim == 2 and np.percentile(grey[name], 99) > 150
        assert np.percentile(grey[name], 5) < 60


def test_turned_chests_are_the_given_files_turned(tmp_path: Path) -> None:
    chest = np.random.default_rng(0).integers(0, 256, (420, 400), dtype=np.uint8)
    Image.fromarray(chest).save(tmp_path / "c.png")
    flipped = _pixels(draw_image("chest-upside-down", 0, seed=1, chests=[tmp_path / "c.png"]))
    inverted = _pixels(draw_image("chest-inverted", 0, seed=1, chests=[tmp_path / "c.png"]))
    assert np.array_equal(flipped, chest[::-1])
    assert np.array_equal(inverted, 255 - chest)
    assert np.allclose(read_grey(tmp_path / "c.png"), chest / 255)


def test_unknown_category_and_empty_count_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown category"):
        draw_image("elbow", 0, seed=1)
    with pytest.raises(ExportError, match="at least 1"):
        write_not_chest(tmp_path, 0, seed=1)


def test_synth_not_chest_writes_every_category(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["synth", str(tmp_path / "out"), "--not-chest", "--count", "1", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(CATEGORIES)
    assert all(len(list((tmp_path / "out" / c).iterdir())) == 1 for c in CATEGORIES)
