"""Synthetic films can carry what real ones do: collimation borders, burned-in text and side
markers (issue 24). The image checks must not refuse such films (at most 1%); the full-size
measurement is benchmarks/film_marks.py (benchmarks/FILM_MARKS.md)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from edgexray_export.data.film_marks import FilmMarks
from edgexray_export.data.synthetic import BINARY_CLASSES, SynthConfig, generate_image
from PIL import Image

from edgexray.inputcheck import check_image
from edgexray.preprocessing import Preprocessor

EVERY_MARK = FilmMarks(collimation=1.0, text=1.0, marker=1.0)
SMALL = dict(classes=BINARY_CLASSES, count=15, seed=31, min_side=500, max_side=900)


def test_marks_are_drawn_apart_from_the_anatomy() -> None:
    plain = generate_image("NORMAL", 3, SynthConfig(**SMALL))  # type: ignore[arg-type]
    unmarked = generate_image("NORMAL", 3, SynthConfig(**SMALL, marks=FilmMarks()))  # type: ignore[arg-type]
    marked = generate_image("NORMAL", 3, SynthConfig(**SMALL, marks=EVERY_MARK))  # type: ignore[arg-type]
    np.testing.assert_array_equal(plain.pixels, unmarked.pixels)
    assert marked.pixels.shape == plain.pixels.shape
    changed = np.abs(marked.pixels - plain.pixels) > 0.05
    assert 0.01 < changed.mean() < 0.5  # borders, text and a marker; most of the chest as drawn
    with pytest.raises(ValueError, match=r"share in 0\.\.1"):
        FilmMarks(text=1.5)


def test_the_image_checks_do_not_refuse_marked_films() -> None:
    config = SynthConfig(**SMALL, marks=EVERY_MARK)  # type: ignore[arg-type]
    inputs = (
        Preprocessor(256, 256, color_mode="grayscale", normalize="unit"),
        Preprocessor(160, 160, color_mode="rgb", normalize="symmetric"),
    )
    refused, checked = [], 0
    for class_name in BINARY_CLASSES:
        for index in range(config.count):
            pixels = generate_image(class_name, index, config).pixels
            buffer = io.BytesIO()
            Image.fromarray(np.rint(pixels * 255).astype(np.uint8), "L").save(buffer, "PNG")
            for pre in inputs:
                findings = check_image(pre.inspect(buffer.getvalue()))
                checked += 1
                if findings:
                    refused.append((class_name, index, findings[0].check))
    assert len(refused) <= 0.01 * checked, refused
