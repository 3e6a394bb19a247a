"""Wall-clock timing of repeated calls, and the percentiles reported for them.

Every figure is `time.perf_counter` around one call, in milliseconds. Warm-up calls run first and
are not recorded: they pay for lazy allocations (XNNPACK weight packing, ONNX Runtime arenas, a
LiteRT tensor resize) that a long-running service pays once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class Percentiles:
    """p50/p90/p99 of a set of timings, milliseconds, and how many timings they summarize."""

    p50: float
    p90: float
    p99: float
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("percentiles need at least one timing")
        if not self.p50 <= self.p90 <= self.p99:
            raise ValueError(f"percentiles out of order: {self.p50}, {self.p90}, {self.p99}")

    def to_dict(self) -> dict[str, Any]:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Percentiles:
        return cls(float(data["p50"]), float(data["p90"]), float(data["p99"]), int(data["count"]))


def percentiles(samples_ms: list[float] | np.ndarray) -> Percentiles:
    """p50/p90/p99 of `samples_ms` with linear interpolation between order statistics (numpy's
    default), so p50 of an even count is the mean of the middle two. ValueError when empty."""
    samples = np.asarray(samples_ms, dtype=np.float64).ravel()
    if samples.size == 0:
        raise ValueError("percentiles need at least one timing")
    p50, p90, p99 = np.percentile(samples, [50, 90, 99])
    return Percentiles(float(p50), float(p90), float(p99), int(samples.size))


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """(what `call` returned, how long it took in milliseconds)."""
    start = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - start) * 1e3


def time_calls(call: Callable[[int], Any], runs: int, warmup: int = 0) -> list[float]:
    """Milliseconds of `runs` calls `call(i)` (i = 0..runs-1) after `warmup` unrecorded calls.

    The index lets the caller cycle through inputs, so the timings are not of one cached input.
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got {runs} and {warmup}")
    for i in range(warmup):
        call(i)
    timings = []
    for i in range(runs):
        start = time.perf_counter()
        call(i)
        timings.append((time.perf_counter() - start) * 1e3)
    return timings
