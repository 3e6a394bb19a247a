"""Percentile arithmetic and the timing loop (counts and order, never durations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_card

from edgexray.bench import suite
from edgexray.bench.dataset import BenchData
from edgexray.bench.measure import Measurement, TimingPlan
from edgexray.bench.runner import RunOutcome, SubjectSpec
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


@pytest.mark.parametrize(
    "bad", [dict(runs=0), dict(warmup=-1), dict(batch_sizes=(0,)), dict(processes=0)]
)
def test_timing_plan_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError):
        TimingPlan(**bad)


def _outcome(name: str, p50: float | None) -> RunOutcome:
    spec = SubjectSpec(name, "edgexray", Path(f"{name}.tflite"), "tflite")
    if p50 is None:
        return RunOutcome(spec, error="crashed")
    measurement = Measurement(
        card=tiny_card("binary_gray"),
        engine="litert",
        load_ms=1.0,
        first_inference_ms=1.0,
        latency_ms=Percentiles(p50, p50, p50, 10),
        end_to_end_ms=Percentiles(p50, p50, p50, 10),
        throughput_ips={1: 1000 / p50},
        peak_rss_mb=50.0,
        probabilities=np.zeros((1, 2)),
    )
    return RunOutcome(spec, measurement)


def test_processes_in_rounds_and_each_row_keeps_its_median_run(monkeypatch) -> None:
    latencies = {"a": iter([0.4, 0.2, 0.3, 0.5]), "b": iter([0.9, 1.0, 1.1, 1.2])}
    order: list[str] = []

    def fake_run(spec, files, plan, threads, tensors=None, timeout_s=None):
        order.append(spec.name)
        return _outcome(spec.name, next(latencies[spec.name]))

    monkeypatch.setattr(suite, "run_isolated", fake_run)
    specs = [_outcome(name, 1.0).spec for name in ("a", "b")]
    data = BenchData(Path("."), (Path("x.png"),), ("NORMAL", "PNEUMONIA"), None)
    got = suite.measure_all(specs, data, TimingPlan(processes=3), threads=1)
    assert order == ["a", "b"] * 3  # rounds over all rows, not one row three times
    assert got[0].measurement.latency_ms.p50 == 0.3  # median of 0.4, 0.2, 0.3
    assert got[1].measurement.latency_ms.p50 == 1.0
    (even,) = suite.measure_all(specs[:1], data, TimingPlan(processes=1), threads=1)
    assert even.measurement.latency_ms.p50 == 0.5  # the fourth value: one process, that run


def test_an_even_count_reports_the_slower_middle_run(monkeypatch) -> None:
    latencies = iter([0.2, 0.4])
    monkeypatch.setattr(
        suite, "run_isolated", lambda spec, *_, **__: _outcome(spec.name, next(latencies))
    )
    data = BenchData(Path("."), (Path("x.png"),), ("NORMAL", "PNEUMONIA"), None)
    (got,) = suite.measure_all([_outcome("a", 1.0).spec], data, TimingPlan(processes=2), 1)
    assert got.measurement.latency_ms.p50 == 0.4


def test_a_row_with_a_failed_process_is_a_failed_row(monkeypatch) -> None:
    latencies = iter([0.3, None, 0.2])
    monkeypatch.setattr(
        suite, "run_isolated", lambda spec, *_, **__: _outcome(spec.name, next(latencies))
    )
    data = BenchData(Path("."), (Path("x.png"),), ("NORMAL", "PNEUMONIA"), None)
    (got,) = suite.measure_all([_outcome("a", 1.0).spec], data, TimingPlan(processes=3), 1)
    assert got.measurement is None
    assert got.error == "1 of 3 processes failed: crashed"
