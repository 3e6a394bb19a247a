"""Latency against agreement, one marker per row, its area proportional to the model file size."""

from __future__ import annotations

from pathlib import Path

from edgexray.bench.results import BenchResult
from edgexray.errors import EngineUnavailableError


def plotting_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def plot_latency_vs_agreement(
    rows: tuple[BenchResult, ...] | list[BenchResult], out: Path, title: str = ""
) -> Path:
    """Write a PNG scatter of median latency (ms, log x) against top-1 agreement (%) to `out`.

    Rows without a measured agreement are left out. EngineUnavailableError without matplotlib.
    """
    if not plotting_available():
        raise EngineUnavailableError("plotting needs matplotlib: pip install 'edgexray[plot]'")
    import matplotlib

    matplotlib.use("Agg")  # no display on a device or in CI
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.ok and r.agreement is not None and r.latency_ms]
    largest = max([r.size_bytes or 1 for r in shown] + [1])
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    markers = {"variant": "o", "full-model": "s", "peer": "^"}
    for role, marker in markers.items():
        group = [r for r in shown if r.role == role]
        if not group:
            continue
        axes.scatter(
            [r.median_ms for r in group],
            [100 * (r.agreement or 0) for r in group],
            s=[30 + 600 * (r.size_bytes or 1) / largest for r in group],
            marker=marker,
            alpha=0.6,
            label=role,
        )
        for r in group:
            axes.annotate(
                r.name,
                (r.median_ms, 100 * (r.agreement or 0)),
                fontsize=7,
                xytext=(4, 3),
                textcoords="offset points",
            )
    axes.set_xscale("log")
    axes.set_xlabel("median single-image latency, ms (log scale)")
    axes.set_ylabel("top-1 agreement with the full model, %")
    axes.set_title(title or "latency vs agreement (marker area ~ file size)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    out = Path(out)
    figure.savefig(out)
    plt.close(figure)
    return out
