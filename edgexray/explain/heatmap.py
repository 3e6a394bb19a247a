"""What a heatmap says in numbers: where its peak is, how concentrated the evidence is, and whether
there is any localized evidence at all (the floor below)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The smallest peak an occlusion map must reach to count as localized evidence: one percentage
# point of the explained class's probability. An occlusion map's value is a change of that
# probability when a window is kept or covered (OcclusionConfig.mode), so below the floor no region
# of the image moves the decision by even 1%. That is the size of the quantized variants' own error:
# the shipped int8 files differ from their full model by 0.0008 to 0.0023 on average (parity
# reports), and one step of an int8 output is 1/256 = 0.0039. A map under the floor is noise
# stretched to full colour by the overlay's scaling to its own peak (the seed CNN's saturated
# PNEUMONIA maps peak at 1e-6 to 3e-5); real evidence on the shipped models peaks at 0.02 to 1.
PROBABILITY_FLOOR = 0.01

NO_EVIDENCE = "no localized evidence"


@dataclass(frozen=True)
class HeatmapSummary:
    """peak_x/peak_y: the peak in map pixels (column, row); peak_x_fraction/peak_y_fraction: the
    same as fractions 0..1 of the width and height, valid on the original image whatever its size.
    peak_value: the map's maximum. localized: the peak reaches `floor` (and is above 0), so the map
    shows evidence; otherwise it shows none and is drawn as the bare image.
    fraction_above_half_peak: share of the image (0..1) where the map is at least half the peak (0
    when the map is not localized)."""

    peak_x: int
    peak_y: int
    peak_x_fraction: float
    peak_y_fraction: float
    peak_value: float
    fraction_above_half_peak: float
    localized: bool
    floor: float

    def to_record(self) -> dict[str, float | int | bool]:
        return {
            "peak_x": self.peak_x,
            "peak_y": self.peak_y,
            "peak_x_fraction": round(self.peak_x_fraction, 4),
            "peak_y_fraction": round(self.peak_y_fraction, 4),
            "peak_value": round(self.peak_value, 6),
            "fraction_above_half_peak": round(self.fraction_above_half_peak, 4),
            "localized": self.localized,
            "localization_floor": self.floor,
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


def summarize(heatmap: np.ndarray, floor: float = 0.0) -> HeatmapSummary:
    """The summary of a 2-D heatmap (larger = more evidence). floor: the smallest peak that counts
    as localized evidence, in the map's units (PROBABILITY_FLOOR for occlusion maps; 0 for maps
    without absolute units, where any positive peak counts). This is the one place that decides
    whether a map shows evidence; the overlay, the records and the screen follow it."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    height, width = heatmap.shape
    row, col = peak(heatmap)
    top = float(heatmap[row, col])
    # Compared as float32, the maps' own precision, so a map holding exactly 0.01 reaches 0.01.
    localized = top > 0 and np.float32(top) >= np.float32(floor)
    above = float(np.mean(heatmap >= top / 2)) if localized else 0.0
    return HeatmapSummary(
        peak_x=col,
        peak_y=row,
        peak_x_fraction=(col + 0.5) / width,
        peak_y_fraction=(row + 0.5) / height,
        peak_value=top,
        fraction_above_half_peak=above,
        localized=bool(localized),
        floor=floor,
    )
