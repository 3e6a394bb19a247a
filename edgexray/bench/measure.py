"""The measuring protocol for one subject, run inside its own child process (see runner.py).

Order matters and is fixed: load (timed, in a process that has loaded nothing else), the first
inference (cold), warm-up, single-image latency of inference alone, end-to-end latency (decode +
preprocess + inference) on image files, batch throughput, then the peak RSS is read, and only then
the probabilities for every data image are computed in small batches: that last pass is for parity
and accuracy, not timed, and comes after the memory reading so a large data folder does not inflate
the footprint a device would see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgexray.bench.memory import peak_rss_mb
from edgexray.bench.subjects import Subject
from edgexray.bench.timing import Percentiles, percentiles, time_calls, timed
from edgexray.card import ModelCard


@dataclass(frozen=True)
class TimingPlan:
    """runs: timed single-image calls (inference alone, and again end to end).
    warmup: unrecorded calls before the timed ones. batch_sizes: images per call for throughput.
    timing_images: distinct images the timed calls cycle through. parity_batch: images per call
    when computing the probabilities for parity and accuracy. processes: fresh processes each row is
    measured in; the row reports the one with the median single-image latency, the slower middle
    one for an even count (a small model's latency can differ by half between two processes on
    the same machine)."""

    runs: int = 50
    warmup: int = 5
    batch_sizes: tuple[int, ...] = (1, 8)
    timing_images: int = 8
    parity_batch: int = 8
    processes: int = 1

    def __post_init__(self) -> None:
        counts = (self.runs, self.timing_images, self.parity_batch, self.processes)
        if min(counts) < 1 or self.warmup < 0:
            raise ValueError(
                "runs, timing_images, parity_batch and processes must be >= 1, warmup >= 0"
            )
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ValueError(f"batch sizes must be >= 1, got {self.batch_sizes}")
        object.__setattr__(self, "batch_sizes", tuple(sorted(set(self.batch_sizes))))

    def batch_repeats(self, batch_size: int) -> int:
        """Timed calls at `batch_size`: about `runs` images in all, at least 3 calls."""
        return max(3, math.ceil(self.runs / batch_size))

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "warmup": self.warmup,
            "batch_sizes": list(self.batch_sizes),
            "timing_images": self.timing_images,
            "parity_batch": self.parity_batch,
            "processes": self.processes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimingPlan:
        return cls(**{**data, "batch_sizes": tuple(data["batch_sizes"])})


@dataclass(frozen=True)
class Measurement:
    """What one child process measured. Times in ms, throughput in images/s keyed by batch size,
    peak_rss_mb in MiB, probabilities (N, len(labels)) for the data images in the order given."""

    card: ModelCard
    engine: str
    load_ms: float
    first_inference_ms: float
    latency_ms: Percentiles
    end_to_end_ms: Percentiles
    throughput_ips: dict[int, float]
    peak_rss_mb: float
    probabilities: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": self.card.to_dict(),
            "engine": self.engine,
            "load_ms": self.load_ms,
            "first_inference_ms": self.first_inference_ms,
            "latency_ms": self.latency_ms.to_dict(),
            "end_to_end_ms": self.end_to_end_ms.to_dict(),
            "throughput_ips": {str(k): v for k, v in self.throughput_ips.items()},
            "peak_rss_mb": self.peak_rss_mb,
            "probabilities": np.asarray(self.probabilities).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        card = ModelCard.from_dict(data["card"])
        return cls(
            card=card,
            engine=str(data["engine"]),
            load_ms=float(data["load_ms"]),
            first_inference_ms=float(data["first_inference_ms"]),
            latency_ms=Percentiles.from_dict(data["latency_ms"]),
            end_to_end_ms=Percentiles.from_dict(data["end_to_end_ms"]),
            throughput_ips={int(k): float(v) for k, v in data["throughput_ips"].items()},
            peak_rss_mb=float(data["peak_rss_mb"]),
            probabilities=np.array(data["probabilities"], dtype=np.float64).reshape(
                -1, len(card.labels)
            ),
        )


def _throughput(subject: Subject, images: list[np.ndarray], size: int, plan: TimingPlan) -> float:
    batch = np.stack([images[i % len(images)] for i in range(size)])
    repeats = plan.batch_repeats(size)
    timings = time_calls(lambda _: subject.infer(batch), repeats, warmup=max(1, plan.warmup // 2))
    return size * repeats / (sum(timings) / 1e3)


def _all_probabilities(
    subject: Subject, files: list[Path], batch_size: int, tensors: Path | None
) -> np.ndarray:
    """Probabilities for every file; from `tensors` (an .npy of the preprocessed files, made once
    by the parent for all subjects) when given, else decoding each file here."""
    stored = np.load(tensors, mmap_mode="r") if tensors is not None else None
    rows = []
    for start in range(0, len(files), batch_size):
        if stored is not None:
            batch = np.array(stored[start : start + batch_size], dtype=np.float32)
        else:
            batch = np.stack([subject.preprocessor(f) for f in files[start : start + batch_size]])
        rows.append(subject.infer(batch))
    return np.concatenate(rows).astype(np.float64)


def measure(
    subject: Subject, files: list[Path], plan: TimingPlan, tensors: Path | None = None
) -> Measurement:
    """Run the protocol above on `subject` with the image `files` (at least one). `tensors`: the
    files already preprocessed as this subject's card says, float32 (N, H, W, C) .npy, or None."""
    if not files:
        raise ValueError("measuring needs at least one image")
    _, load_ms = timed(subject.load)
    sample_files = files[: plan.timing_images]
    images = [subject.preprocessor(f) for f in sample_files]
    singles = [x[None] for x in images]
    _, first_ms = timed(lambda: subject.infer(singles[0]))
    latency = time_calls(lambda i: subject.infer(singles[i % len(singles)]), plan.runs, plan.warmup)
    end_to_end = time_calls(
        lambda i: subject.end_to_end(sample_files[i % len(sample_files)]), plan.runs, warmup=1
    )
    throughput = {size: _throughput(subject, images, size, plan) for size in plan.batch_sizes}
    peak = peak_rss_mb()
    probabilities = _all_probabilities(subject, files, plan.parity_batch, tensors)
    engine = subject.engine_label()
    subject.close()
    return Measurement(
        card=subject.card,
        engine=engine,
        load_ms=load_ms,
        first_inference_ms=first_ms,
        latency_ms=percentiles(latency),
        end_to_end_ms=percentiles(end_to_end),
        throughput_ips=throughput,
        peak_rss_mb=peak,
        probabilities=probabilities,
    )
