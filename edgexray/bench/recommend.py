"""Which variant to deploy: the fastest one here that keeps the agreement the user asks for.

Measured where it runs, so a Raspberry Pi user gets the answer for a Raspberry Pi, not for the
workstation that exported the models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edgexray.bench.results import BenchResult


@dataclass(frozen=True)
class Recommendation:
    """`best` is None when no variant was measured with enough agreement; `reason` then says why."""

    min_agreement: float
    best: BenchResult | None
    reason: str

    def describe(self) -> str:
        floor = f"{100 * self.min_agreement:g}%"
        if self.best is None:
            return f"no recommendation for >= {floor} agreement: {self.reason}"
        row = self.best
        against = row.quality.against or "full model"
        return (
            f"recommended for >= {floor} agreement vs {against} on this machine: {row.name} "
            f"({row.path}): p50 {row.median_ms:.2f} ms, "
            f"agreement vs {against} {100 * (row.agreement or 0):.2f}%, "
            f"{(row.size_bytes or 0) / 1024:.0f} kB"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "min_agreement": self.min_agreement,
            "name": self.best.name if self.best else None,
            "agreement_vs": self.best.quality.against if self.best else None,
            "path": self.best.path if self.best else None,
            "reason": self.reason,
        }


def recommend(results: Iterable[BenchResult], min_agreement: float) -> Recommendation:
    """The edgexray variant with the lowest median inference latency among those measured with at
    least `min_agreement` (0..1) top-1 agreement with the full model, or with the variant that stood
    in for it (fp32, else fp16) when no full-model reference covered the images."""
    if not 0.0 <= min_agreement <= 1.0:
        raise ValueError(f"min_agreement must be in [0, 1], got {min_agreement}")
    variants = [row for row in results if row.role == "variant" and row.ok]
    if not variants:
        return Recommendation(min_agreement, None, "no variant was measured")
    if all(row.agreement is None for row in variants):
        return Recommendation(
            min_agreement,
            None,
            "nothing to measure agreement against (no full-model reference, no fp32/fp16 variant)",
        )
    passing = [row for row in variants if row.meets(min_agreement)]
    if not passing:
        best_seen = max(row.agreement or 0.0 for row in variants)
        return Recommendation(
            min_agreement, None, f"the best variant agrees {100 * best_seen:.2f}%"
        )
    best = min(passing, key=lambda row: (row.median_ms, row.size_bytes or 0))
    return Recommendation(min_agreement, best, "fastest median latency at that agreement")
