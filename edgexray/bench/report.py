"""A benchmark's report: the machine, the settings, the rows; as a terminal table, JSON, Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from edgexray import __version__
from edgexray.bench.machine import MachineInfo
from edgexray.bench.measure import TimingPlan
from edgexray.bench.results import BenchResult


@dataclass(frozen=True)
class BenchReport:
    """data: {"folder", "images", "labelled", "labels"}; comparison: {"source", "images",
    "against"} or None when nothing could be compared (agreement is then null in every row);
    "against" names what the agreement is measured against: "full model", or the variant
    that stood in for it (e.g. "tflite-fp32") when no full-model reference covered the data."""

    machine: MachineInfo
    plan: TimingPlan
    data: dict[str, Any]
    comparison: dict[str, Any] | None
    results: tuple[BenchResult, ...]
    created: str = ""

    def __post_init__(self) -> None:
        if not self.created:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            object.__setattr__(self, "created", stamp)

    def to_dict(self) -> dict[str, Any]:
        return {
            "edgexray_version": __version__,
            "created": self.created,
            "machine": self.machine.to_dict(),
            "settings": {**self.plan.to_dict(), "threads": self.machine.threads},
            "data": self.data,
            "comparison": self.comparison,
            "results": [row.to_dict() for row in self.results],
        }

    @property
    def against(self) -> str | None:
        """What agreement is measured against, for titles; None when it was not measured."""
        if not self.comparison:
            return None
        return str(self.comparison.get("against") or "full model")

    def describe_comparison(self) -> str:
        """One line: what agreement is measured against, and why when it is a stand-in."""
        if not self.comparison:
            return (
                "nothing: agreement not measured (no reference covers the images, no fp32 or "
                "fp16 variant to stand in)"
            )
        c = self.comparison
        why = (
            ", the most exact variant measured, standing in: no full-model reference covers "
            "these images"
            if c.get("stand_in")
            else ""
        )
        return f"{self.against} ({c['source']}, {c['images']} images{why})"

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 2**20:.2f} MB" if size >= 2**20 else f"{size / 2**10:.0f} kB"


# Column title -> cell of a row. Throughput columns are added per batch size.
_COLUMNS: dict[str, Callable[[BenchResult], str]] = {
    "name": lambda r: r.name,
    "format": lambda r: r.format,
    "engine": lambda r: r.engine or "-",
    "size": lambda r: _size(r.size_bytes),
    "load ms": lambda r: _num(r.load_ms),
    "first ms": lambda r: _num(r.first_inference_ms),
    "p50 ms": lambda r: _num(r.latency_ms.p50 if r.latency_ms else None, 2),
    "p90 ms": lambda r: _num(r.latency_ms.p90 if r.latency_ms else None, 2),
    "p99 ms": lambda r: _num(r.latency_ms.p99 if r.latency_ms else None, 2),
    "e2e p50 ms": lambda r: _num(r.end_to_end_ms.p50 if r.end_to_end_ms else None, 2),
    "RSS MB": lambda r: _num(r.peak_rss_mb, 0),
    "agreement": lambda r: _pct(r.agreement),
    "max |dp|": lambda r: _num(r.quality.max_abs_diff, 4),
    "accuracy": lambda r: _pct(r.accuracy),
}


def table_rows(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """(column titles, one list of cells per result row); a failed row says why in its last cell."""
    sizes = report.plan.batch_sizes
    titles = [*_COLUMNS, *(f"img/s b={b}" for b in sizes)]
    against = report.against
    if against is not None:
        titles = [f"agreement vs {against}" if t == "agreement" else t for t in titles]
    rows = []
    for r in report.results:
        if not r.ok:
            rows.append([r.name, r.format, f"FAILED: {r.error}"])
            continue
        cells = [cell(r) for cell in _COLUMNS.values()]
        cells += [_num((r.throughput_ips or {}).get(b), 1) for b in sizes]
        rows.append(cells)
    return titles, rows


def format_table(report: BenchReport) -> str:
    """Aligned columns for a terminal, preceded by the machine and settings."""
    titles, rows = table_rows(report)
    full = [r for r in rows if len(r) == len(titles)]
    widths = [
        max(len(t), *(len(r[i]) for r in full)) if full else len(t) for i, t in enumerate(titles)
    ]
    lines = [
        f"machine: {report.machine.describe()}",
        f"data: {report.data['images']} images in {report.data['folder']}"
        + (" (labelled)" if report.data.get("labelled") else " (unlabelled: no accuracy)"),
        f"agreement vs: {report.describe_comparison()}",
        "  ".join(
            t.rjust(w) if i > 2 else t.ljust(w)
            for i, (t, w) in enumerate(zip(titles, widths, strict=True))
        ),
    ]
    for row in rows:
        if len(row) != len(titles):
            lines.append(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")
            continue
        lines.append(
            "  ".join(
                c.rjust(w) if i > 2 else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _markdown_cell(text: str) -> str:
    """A table cell's text with its pipes escaped (`max |dp|` would otherwise split the cell)."""
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(report: BenchReport) -> str:
    """A Markdown table of the rows (for a README), with the machine and settings above it."""
    titles, rows = table_rows(report)
    titles = [_markdown_cell(t) for t in titles]
    rows = [[_markdown_cell(c) for c in row] for row in rows]
    plan = report.plan
    lines = [
        f"Machine: {report.machine.describe()}.",
        f"Settings: {plan.runs} timed runs after {plan.warmup} warm-up runs, "
        f"{report.data['images']} images; latency is single-image inference, median and tails.",
        f"Top-1 agreement vs: {report.describe_comparison()}.",
        "",
        "| " + " | ".join(titles) + " |",
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(titles))) + "|",
    ]
    for row in rows:
        padded = row + [""] * (len(titles) - len(row))
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines) + "\n"
