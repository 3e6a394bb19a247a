"""What a heatmap says in numbers: where its peak is and how concentrated the evidence is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HeatmapSummary:
    """peak_x/peak_y: the peak in map pixels (column, row); peak_x_fraction/peak_y_fraction: the
    same as fractions 0..1 of the width and height, valid on the original image whatever its size.
    peak_value: the map's maximum. fraction_above_half_peak: share of the image (0..1) where the
    map is at least half the peak (0 when nothing supports the class)."""

    peak_x: int
    peak_y: int
    peak_x_fraction: float
    peak_y_fraction: float
    peak_value: float
    fraction_above_half_peak: float

    def to_record(self) -> dict[str, float | int]:
        return {
            "peak_x": self.peak_x,
            "peak_y": self.peak_y,
            "peak_x_fraction": round(self.peak_x_fraction, 4),
            "peak_y_fraction": round(self.peak_y_fraction, 4),
            "peak_value": round(self.peak_value, 6),
            "fraction_above_half_peak": round(self.fraction_above_half_peak, 4),
        }


def peak(heatmap: np.ndarray) -> tuple[int, int]:
    """(row, column) of the peak. Occlusion maps are flat over each window overlap, so the peak is
    a plateau: the plateau pixel nearest to the plateau's centroid, not its top-left corner."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    top = heatmap.max()
    rows, cols = np.nonzero(heatmap >= top - 1e-12 * max(1.0, abs(top)))
    centre_r, centre_c = rows.mean(), cols.mean()
    nearest = int(np.argmin((rows - centre_r) ** 2 + (cols - centre_c) ** 2))
    return int(rows[nearest]), int(cols[nearest])


def summarize(heatmap: np.ndarray) -> HeatmapSummary:
    """The summary of a 2-D heatmap (any units; larger = more evidence)."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    height, width = heatmap.shape
    row, col = peak(heatmap)
    top = float(heatmap[row, col])
    above = float(np.mean(heatmap >= top / 2)) if top > 0 else 0.0
    return HeatmapSummary(
        peak_x=col,
        peak_y=row,
        peak_x_fraction=(col + 0.5) / width,
        peak_y_fraction=(row + 0.5) / height,
        peak_value=top,
        fraction_above_half_peak=above,
    )
