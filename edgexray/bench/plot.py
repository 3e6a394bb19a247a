"""Latency against agreement, one marker per row, its area proportional to the model file size."""

from __future__ import annotations

from pathlib import Path

from edgexray.atomic import write_figure_atomically
from edgexray.bench.results import BenchResult
from edgexray.errors import EngineUnavailableError
from edgexray.extras import install_hint


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
        raise EngineUnavailableError(f"plotting needs matplotlib: {install_hint('plot')}")
    import matplotlib

    matplotlib.use("Agg")  # no display on a device or in CI
    import matplotlib.pyplot as plt

    shown = sorted(
        (r for r in rows if r.ok and r.agreement is not None and r.latency_ms),
        key=lambda r: r.median_ms,
    )
    largest = max([r.size_bytes or 1 for r in shown] + [1])
    figure, axes = plt.subplots(figsize=(10, 6), dpi=120)
    markers = {"variant": "o", "full-model": "s", "peer": "^"}
    for role, marker in markers.items():
        group = [r for r in shown if r.role == role]
        if group:
            axes.scatter(
                [r.median_ms for r in group],
                [100 * (r.agreement or 0) for r in group],
                s=[30 + 600 * (r.size_bytes or 1) / largest for r in group],
                marker=marker,
                alpha=0.55,
                label=role,
            )
    # Many rows sit at 100%: slanted labels, alternately above and below, stay readable.
    for i, r in enumerate(shown):
        above = i % 2 == 0
        axes.annotate(
            r.name,
            (r.median_ms, 100 * (r.agreement or 0)),
            xytext=(2, 6 if above else -6),
            textcoords="offset points",
            fontsize=6,
            rotation=40 if above else -40,
            va="bottom" if above else "top",
        )
    if shown:
        low = min(100 * (r.agreement or 0) for r in shown)
        span = max(100 - low, 0.5)
        axes.set_ylim(low - 0.45 * span, 100 + 0.45 * span)
        axes.set_yticks([t for t in axes.get_yticks() if low - 0.45 * span <= t <= 100])
        legend = axes.legend(loc="lower right", fontsize=8)
        for handle in legend.legend_handles:
            handle.set_sizes([40])  # type: ignore[union-attr]
    else:
        axes.text(0.5, 0.5, "no agreement measured", transform=axes.transAxes, ha="center")
    axes.set_xscale("log")
    axes.set_xlabel("median single-image latency, ms (log scale)")
    against = next((r.quality.against for r in shown if r.quality.against), "full model")
    axes.set_ylabel(f"top-1 agreement vs {against}, %")
    axes.set_title(title or "latency vs agreement (marker area ~ file size)")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    out = Path(out)
    write_figure_atomically(figure, out)
    plt.close(figure)
    return out
