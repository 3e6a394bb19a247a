"""The parity report: one row per variant, written as JSON and shown as a table on the terminal."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgexray.atomic import write_text_atomically
from edgexray.card import Parity

STATUSES = ("ok", "degraded", "below gate", "failed")


@dataclass(frozen=True)
class VariantResult:
    """What became of one variant.

    status: ok (passed the gate), degraded (below it, kept with allow_degraded), below gate
    (removed), failed (conversion or loading failed; error says why).
    size_bytes: model file size with the card embedded (None when no file was kept).
    """

    variant: str
    status: str
    path: Path | None = None
    size_bytes: int | None = None
    parity: Parity | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} not in {STATUSES}")


@dataclass(frozen=True)
class ExportReport:
    """The outcome of one export: a row per variant and where the shared files are."""

    model: str
    output_dir: Path
    reference_path: Path
    parity_images: int
    calibration_images: int
    overlapping_sets: bool
    min_agreement: float
    results: tuple[VariantResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """True when every variant was exported and none is below the gate (degraded allowed)."""
        return all(r.status in ("ok", "degraded") for r in self.results)

    def result(self, variant: str) -> VariantResult:
        for row in self.results:
            if row.variant == variant:
                return row
        raise KeyError(variant)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["output_dir"] = str(self.output_dir)
        data["reference_path"] = str(self.reference_path)
        for row in data["results"]:
            row["path"] = None if row["path"] is None else str(row["path"])
        return data

    def write_json(self, path: Path) -> Path:
        write_text_atomically(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.2f} MB"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _explanation(parity: Parity | None) -> str:
    """Explanation parity as "0.91/0.78" (rank correlation / top-10% overlap), "-" if unmeasured."""
    if parity is None or parity.explanation_rank_correlation is None:
        return "-"
    return f"{parity.explanation_rank_correlation:.2f}/{parity.explanation_top_overlap or 0:.2f}"


def _gate_lines(report: ExportReport) -> list[str]:
    """One line per variant measured against the user's metric gate or given its own threshold."""
    lines = []
    for r in report.results:
        p = r.parity
        if p is not None and p.metric is not None:
            verdict = "within" if p.metric_passed else "OVER"
            mode = " (relative)" if p.metric_drop_mode == "relative" else ""
            lines.append(
                f"{r.variant}: {p.metric} {p.metric_variant:.4f} vs Keras {p.metric_reference:.4f}, "
                f"{verdict} the allowed drop {p.metric_max_drop:g}{mode}"
            )
        if p is not None and p.reference_threshold is not None and r.path is not None:
            lines.append(
                f"{r.variant}: own threshold (Keras {p.reference_threshold:g}); "
                f"{p.decisions_changed} parity decision(s) change at the Keras threshold"
            )
    return lines


def format_table(report: ExportReport) -> str:
    """A plain-text table: variant, size, agreement, max |dp|, mean |dp|, accuracy, status."""
    header = (
        "variant",
        "size",
        "agreement",
        "max |dp|",
        "mean |dp|",
        "accuracy",
        "map rho/top10",
        "status",
    )
    rows = [header]
    for r in report.results:
        p = r.parity
        rows.append(
            (
                r.variant,
                _size(r.size_bytes),
                _percent(p.agreement) if p else "-",
                f"{p.max_abs_diff:.2e}" if p else "-",
                f"{p.mean_abs_diff:.2e}" if p else "-",
                _percent(p.accuracy) if p else "-",
                _explanation(p),
                r.status if r.error is None else f"{r.status}: {r.error}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in rows
    ]
    reference = _percent(
        next((r.parity.reference_accuracy for r in report.results if r.parity), None)
    )
    lines.append(
        f"{report.parity_images} held-out parity images"
        + (" (same as calibration: folder too small)" if report.overlapping_sets else "")
        + f"; Keras accuracy {reference}; gate: agreement >= {_percent(report.min_agreement)}"
    )
    return "\n".join(lines + _gate_lines(report))
