"""Interleaved timing rounds for the one-process benchmark scripts.

Each row is measured once per round, rows alternating, so a busy spell on the machine hits every
row alike; a row's figure is the median of its round figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_ms(
    function: Callable[[int], object],
    calls: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time in ms of `calls` calls of function(call_index), wall time by default
    (clock=time.thread_time: CPU time of the calling thread)."""
    times = []
    for i in range(calls):
        start = clock()
        function(i)
        times.append(clock() - start)
    return float(np.median(times)) * 1000


def interleaved(rows: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Row name -> median over `rounds` of the row's measurement (after one warm-up round)."""
    for measure in rows.values():
        measure()
    values: dict[str, list[float]] = {row: [] for row in rows}
    for _ in range(rounds):
        for row, measure in rows.items():
            values[row].append(measure())
    return {row: float(np.median(v)) for row, v in values.items()}
