"""The recommendation: fastest variant at or above an agreement floor, on known rows."""

from __future__ import annotations

import pytest

from edgexray.bench.recommend import recommend
from edgexray.bench.results import BenchResult, Quality
from edgexray.bench.timing import Percentiles


def row(name: str, p50: float, agreement: float | None, role: str = "variant", size: int = 1000):
    return BenchResult(
        name=name,
        path=f"/m/{name}",
        format=name.split("-")[0],
        role=role,
        size_bytes=size,
        latency_ms=Percentiles(p50, p50, p50, 10),
        quality=Quality(agreement=agreement),
    )


def test_fastest_variant_that_keeps_the_floor_wins():
    rows = [
        row("tflite-fp32", 6.9, 1.0),
        row("tflite-int8", 3.2, 0.998),
        row("onnx-int8", 2.4, 0.990),  # fastest, but below 99.5%
        row("keras-tf-function", 1.0, 1.0, role="full-model"),  # never recommended
    ]
    chosen = recommend(rows, 0.995)
    assert chosen.best is not None and chosen.best.name == "tflite-int8"
    assert "tflite-int8" in chosen.describe() and "p50 3.20 ms" in chosen.describe()
    assert recommend(rows, 0.99).best.name == "onnx-int8"


def test_ties_go_to_the_smaller_file():
    rows = [row("a-fp32", 2.0, 1.0, size=4000), row("b-int8", 2.0, 1.0, size=1000)]
    assert recommend(rows, 0.99).best.name == "b-int8"


def test_no_recommendation_says_why():
    below = recommend([row("tflite-int8", 3.0, 0.97)], 0.995)
    assert below.best is None and "97.00%" in below.reason
    no_reference = recommend([row("tflite-int8", 3.0, None)], 0.995)
    assert no_reference.best is None and "no full-model reference" in no_reference.reason
    assert recommend([], 0.9).reason == "no variant was measured"
    with pytest.raises(ValueError):
        recommend([], 1.5)
