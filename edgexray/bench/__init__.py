"""Benchmarking exported models where they run: latency, footprint, and parity with the full model.

numpy and the standard library only (TensorFlow is imported only by the Keras subjects, inside the
child process that measures them). Entry points: `edgexray bench` (edgexray.cli.bench) and
`run_bench(BenchRequest(...))`.
"""

from edgexray.bench.measure import Measurement, TimingPlan
from edgexray.bench.report import BenchReport
from edgexray.bench.results import BenchResult
from edgexray.bench.suite import BenchRequest, run_bench
from edgexray.bench.timing import Percentiles, percentiles

__all__ = [
    "BenchReport",
    "BenchRequest",
    "BenchResult",
    "Measurement",
    "Percentiles",
    "TimingPlan",
    "percentiles",
    "run_bench",
]
