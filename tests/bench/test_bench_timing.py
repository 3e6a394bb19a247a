"""Percentile arithmetic and the timing loop (counts and order, never durations)."""

from __future__ import annotations

import numpy as np
import pytest

from edgexray.bench.measure import TimingPlan
from edgexray.bench.timing import Percentiles, percentiles, time_calls


def test_percentiles_of_1_to_100_interpolate_linearly() -> None:
    p = percentiles(np.arange(1, 101))
    assert (p.p50, p.p90, p.p99, p.count) == pytest.approx((50.5, 90.1, 99.01, 100))


def test_percentiles_of_one_timing_are_that_timing() -> None:
    assert percentiles([4.2]) == Percentiles(4.2, 4.2, 4.2, 1)


def test_percentiles_ignore_input_order_and_keep_tails() -> None:
    samples = [10.0] * 98 + [500.0, 1000.0]
    shuffled = np.random.default_rng(0).permutation(samples)
    p = percentiles(shuffled)
    assert p.p50 == 10.0 and p.p90 == 10.0
    assert p.p99 == pytest.approx(500.0 + 0.01 * 500.0)


def test_percentiles_refuse_no_timings() -> None:
    with pytest.raises(ValueError, match="at least one"):
        percentiles([])


def test_percentiles_round_trip_through_json_dict() -> None:
    p = percentiles([1.0, 2.0, 3.0])
    assert Percentiles.from_dict(p.to_dict()) == p


def test_time_calls_runs_warmup_first_and_records_only_timed_calls() -> None:
    calls: list[int] = []
    timings = time_calls(calls.append, runs=4, warmup=2)
    assert calls == [0, 1, 0, 1, 2, 3]
    assert len(timings) == 4 and all(t >= 0 for t in timings)


def test_timing_plan_sorts_batch_sizes_and_spreads_repeats() -> None:
    plan = TimingPlan(runs=50, batch_sizes=(8, 1, 8))
    assert plan.batch_sizes == (1, 8)
    assert plan.batch_repeats(1) == 50
    assert plan.batch_repeats(8) == 7  # ceil(50 / 8)
    assert plan.batch_repeats(64) == 3  # never fewer than three calls
    assert TimingPlan.from_dict(plan.to_dict()) == plan


@pytest.mark.parametrize("bad", [dict(runs=0), dict(warmup=-1), dict(batch_sizes=(0,))])
def test_timing_plan_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        TimingPlan(**bad)
