"""The bench report's Markdown table renders: every row has as many cells as the header."""

from __future__ import annotations

import re

from edgexray.bench.machine import describe_machine
from edgexray.bench.measure import TimingPlan
from edgexray.bench.report import BenchReport, format_markdown
from edgexray.bench.results import BenchResult, Quality
from edgexray.bench.timing import percentiles


def markdown_cells(line: str) -> list[str]:
    """A GFM table row split on its unescaped pipes (`\\|` is a literal pipe inside a cell)."""
    inner = line.strip()
    assert inner.startswith("|") and inner.endswith("|") and not inner.endswith("\\|"), line
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner[1:-1])]


def report_with_rows() -> BenchReport:
    plan = TimingPlan(runs=3, batch_sizes=(1, 8))
    ok = BenchResult(
        "tflite-int8",
        "/m/a.tflite",
        "tflite",
        "variant",
        engine="edgexray/litert",
        size_bytes=1000,
        load_ms=1.0,
        first_inference_ms=2.0,
        latency_ms=percentiles([1.0, 2.0, 3.0]),
        end_to_end_ms=percentiles([2.0, 3.0, 4.0]),
        throughput_ips={1: 10.0, 8: 50.0},
        peak_rss_mb=30.0,
        quality=Quality(agreement=1.0, max_abs_diff=0.01, mean_abs_diff=0.001, parity_images=4),
    )
    failed = BenchResult(
        "onnx-int8", "/m/b.onnx", "onnx", "variant", error="engine said |x| > 1 | bad"
    )
    data = {"folder": "/d", "images": 4, "labelled": False, "labels": ["A", "B"]}
    return BenchReport(describe_machine(1), plan, data, None, (ok, failed))


def test_every_markdown_row_has_as_many_cells_as_the_header() -> None:
    lines = format_markdown(report_with_rows()).splitlines()
    table = [line for line in lines if line.startswith("|")]
    header, rule, *rows = table
    titles = markdown_cells(header)
    assert "max \\|dp\\|" in titles
    assert len(markdown_cells(rule)) == len(titles)
    assert len(rows) == 2
    for row in rows:
        assert len(markdown_cells(row)) == len(titles), row
    assert markdown_cells(rows[1])[2] == "FAILED: engine said \\|x\\| > 1 \\| bad"
