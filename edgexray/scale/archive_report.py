"""The report of `edgexray bench --ray`: variants compared over a whole archive, as a terminal
table, Markdown and JSON. Row keys are bench's (edgexray.bench.results.BenchResult.to_dict) where
they mean the same thing; the timing figures bench has and an archive run does not are left out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from edgexray import __version__
from edgexray.scale.agreement import ArchiveComparison


@dataclass(frozen=True)
class ArchiveReport:
    """data: {"folder", "images", "labelled", "labels"}; comparison: the counters; paths: the
    variant files, in the comparison's order; actors: the pool size; seconds: the Ray run's wall
    time (Ray's start excluded)."""

    data: dict[str, Any]
    comparison: ArchiveComparison
    paths: tuple[str, ...]
    actors: int
    seconds: float
    reference_reason: str = ""
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        results = []
        for (tally, quality), path in zip(c.rows(), self.paths, strict=True):
            results.append(
                {
                    "name": tally.name,
                    "path": path,
                    "role": "reference" if tally.name == c.against else "variant",
                    "images": tally.images,
                    "engine_errors": tally.engine_errors,
                    "agreement": quality.agreement,
                    "agreement_vs": quality.against,
                    "decisions_changed": (
                        tally.decisions_changed
                        if c.decisions_comparable and quality.agreement is not None
                        else None
                    ),
                    "max_abs_diff": quality.max_abs_diff,
                    "mean_abs_diff": quality.mean_abs_diff,
                    "parity_images": quality.parity_images,
                    "accuracy": quality.accuracy,
                    "metrics": quality.metrics,
                }
            )
        return {
            "edgexray_version": __version__,
            "created": self.created,
            "ray": {
                "actors": self.actors,
                "seconds": round(self.seconds, 3),
                "images_per_second": round(c.rows_seen / self.seconds, 2) if self.seconds else None,
            },
            "data": {
                **self.data,
                "unreadable": c.unreadable,
                "rejected": c.rejected,
                "labelled_judged": c.labelled,
                "error_examples": c.examples,
            },
            "comparison": {"against": c.against, "why": self.reference_reason}
            if c.against
            else None,
            "results": results,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        against = self.comparison.against or "-"
        titles = [
            "name",
            "images",
            f"agreement vs {against}",
            "decisions changed",
            "max |dp|",
            "mean |dp|",
            "accuracy",
            "macro F1",
        ]
        rows = []
        for result in self.to_dict()["results"]:
            metrics = result["metrics"] or {}
            rows.append(
                [
                    result["name"] + (" (reference)" if result["role"] == "reference" else ""),
                    str(result["images"]),
                    _pct(result["agreement"]),
                    "-"
                    if result["decisions_changed"] is None
                    else str(result["decisions_changed"]),
                    _num(result["max_abs_diff"]),
                    _num(result["mean_abs_diff"]),
                    _pct(result["accuracy"]),
                    _num(metrics.get("macro", {}).get("f1")),
                ]
            )
        return titles, rows

    def _header(self) -> list[str]:
        d = self.to_dict()
        data, ray = d["data"], d["ray"]
        labelled = (
            f"{data['labelled_judged']} in class folders"
            if data.get("labelled")
            else "not in class folders: no accuracy"
        )
        return [
            f"archive: {data['images']} images in {data['folder']} ({labelled}); "
            f"{data['unreadable']} unreadable, {data['rejected']} rejected by the input checks",
            f"ray: {ray['actors']} actor(s), {ray['seconds']:.1f} s, "
            f"{ray['images_per_second'] or 0:.1f} images/s (every variant on each decoded image)",
            "agreement vs: "
            + (
                f"{self.comparison.against} ({self.reference_reason})"
                if self.comparison.against
                else "nothing (one variant)"
            ),
        ]

    def format_table(self) -> str:
        titles, rows = self._cells()
        widths = [max(len(t), *(len(r[i]) for r in rows)) for i, t in enumerate(titles)]
        lines = self._header()
        for row in [titles, *rows]:
            lines.append(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
        return "\n".join(lines) + "\n"

    def format_markdown(self) -> str:
        titles, rows = self._cells()
        lines = [f"{line}." for line in self._header()] + [""]
        for row in [titles, ["---"] + ["---:"] * (len(titles) - 1), *rows]:
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"
