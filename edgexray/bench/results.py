"""One result row per measured subject, and the arithmetic that scores it against the full model.

Rows are flat and JSON-ready, so questions about them are one-liners, e.g. the fastest variant
keeping 99.5% top-1 agreement:

    min((r for r in rows if r.meets(0.995)), key=lambda r: r.median_ms)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from edgexray.bench.comparison import Comparison
from edgexray.bench.runner import RunOutcome
from edgexray.bench.timing import Percentiles
from edgexray.card import ModelCard
from edgexray.metrics import classification_metrics
from edgexray.parity import measure_parity
from edgexray.postprocess import decide


@dataclass(frozen=True)
class Quality:
    """Parity against the full model (None without a comparison) and task metrics (None without
    labels). agreement: top-1 agreement 0..1 over `parity_images`; max/mean_abs_diff: |dp|.
    metrics: edgexray.metrics.Metrics.to_dict() (accuracy, per-class P/R/F1, confusion matrix).
    against: what the agreement is measured against ("full model", or the variant row standing
    in for it, e.g. "tflite-fp32"); None without a comparison."""

    agreement: float | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    parity_images: int = 0
    accuracy: float | None = None
    metrics: dict[str, Any] | None = None
    against: str | None = None


def score(
    probabilities: np.ndarray,
    card: ModelCard,
    comparison: Comparison | None,
    truth: np.ndarray | None,
) -> Quality:
    """Quality of `probabilities` (N, labels) on the N data images, deciding labels as the card says
    (threshold for a binary model). `truth`: true class index per image, or None."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    parity = None
    if comparison is not None:
        parity = measure_parity(comparison.probabilities, probabilities[comparison.indices], card)
    metrics = None
    if truth is not None:
        metrics = classification_metrics(truth, decide(probabilities, card), card.labels).to_dict()
    return Quality(
        agreement=parity.agreement if parity else None,
        max_abs_diff=parity.max_abs_diff if parity else None,
        mean_abs_diff=parity.mean_abs_diff if parity else None,
        parity_images=parity.images if parity else 0,
        accuracy=metrics["accuracy"] if metrics else None,
        metrics=metrics,
        against=comparison.against if comparison else None,
    )


@dataclass(frozen=True)
class BenchResult:
    """One row. Times in ms; latency_ms is inference alone on a preprocessed image, end_to_end_ms
    adds decoding and preprocessing an image file; throughput_ips: images/s keyed by batch size;
    peak_rss_mb: MiB of the measuring process; size_bytes: the model file. `error` is set (and the
    figures None) when the subject could not be measured."""

    name: str
    path: str
    format: str
    role: str
    engine: str | None = None
    size_bytes: int | None = None
    load_ms: float | None = None
    first_inference_ms: float | None = None
    latency_ms: Percentiles | None = None
    end_to_end_ms: Percentiles | None = None
    throughput_ips: dict[int, float] | None = None
    peak_rss_mb: float | None = None
    quality: Quality = field(default_factory=Quality)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def median_ms(self) -> float:
        """Median single-image inference latency; infinity for a failed row, so it never wins."""
        return self.latency_ms.p50 if self.latency_ms else float("inf")

    @property
    def agreement(self) -> float | None:
        return self.quality.agreement

    @property
    def accuracy(self) -> float | None:
        return self.quality.accuracy

    def meets(self, min_agreement: float) -> bool:
        """Measured, and at least `min_agreement` (0..1) top-1 agreement with the full model."""
        return self.ok and self.agreement is not None and self.agreement >= min_agreement

    def to_dict(self) -> dict[str, Any]:
        q = self.quality
        return {
            "name": self.name,
            "path": self.path,
            "format": self.format,
            "role": self.role,
            "engine": self.engine,
            "size_bytes": self.size_bytes,
            "load_ms": self.load_ms,
            "first_inference_ms": self.first_inference_ms,
            "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None,
            "end_to_end_ms": self.end_to_end_ms.to_dict() if self.end_to_end_ms else None,
            "throughput_ips": {str(k): v for k, v in (self.throughput_ips or {}).items()} or None,
            "peak_rss_mb": self.peak_rss_mb,
            "agreement": q.agreement,
            "agreement_vs": q.against,
            "max_abs_diff": q.max_abs_diff,
            "mean_abs_diff": q.mean_abs_diff,
            "parity_images": q.parity_images,
            "accuracy": q.accuracy,
            "metrics": q.metrics,
            "error": self.error,
        }


def build_result(
    outcome: RunOutcome, comparison: Comparison | None, truth: np.ndarray | None
) -> BenchResult:
    """The row for one run: its figures, scored against `comparison` and `truth`."""
    spec = outcome.spec
    size = spec.path.stat().st_size if spec.path.is_file() else None
    failed = BenchResult(
        spec.name, str(spec.path), spec.format, spec.role, size_bytes=size, error=outcome.error
    )
    m = outcome.measurement
    if m is None:
        return replace(failed, error=outcome.error or "not measured")
    return replace(
        failed,
        engine=m.engine,
        load_ms=m.load_ms,
        first_inference_ms=m.first_inference_ms,
        latency_ms=m.latency_ms,
        end_to_end_ms=m.end_to_end_ms,
        throughput_ips=dict(m.throughput_ips),
        peak_rss_mb=m.peak_rss_mb,
        quality=score(m.probabilities, m.card, comparison, truth),
        error=None,
    )
