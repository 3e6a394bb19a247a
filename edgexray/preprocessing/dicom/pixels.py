"""A decoded DICOM frame to the 8-bit picture the model reads, in the standard's order.

Grey (MONOCHROME1/2): pydicom's `apply_modality_lut` (Rescale Slope/Intercept or a Modality LUT
Sequence), then `apply_voi_lut` (the chosen VOI LUT Sequence item or window, with its VOI LUT
Function), then the VOI output range is mapped linearly to 0..255 and inverted when the
Presentation LUT Shape says INVERSE (or, when it is absent, for MONOCHROME1). Colour (RGB, YBR_*
already turned into RGB by pydicom, PALETTE COLOR through `apply_color_lut`) becomes 8-bit RGB.

The grey steps run on strips of rows, so the float temporaries stay small next to the frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgexray.preprocessing.dicom.options import DicomOptions

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_STRIP_PIXELS = 1 << 18  # ~2 MB of float64 per temporary
GREY = ("MONOCHROME1", "MONOCHROME2")
COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")


class PixelProblem(ValueError):
    """The frame cannot be rendered as asked (a window that is not there, an unknown colour space)."""


@dataclass(frozen=True)
class Rendered:
    """The 8-bit picture (H, W) grey or (H, W, 3) RGB, and how it was made (for the record)."""

    pixels: np.ndarray
    window: str
    inverted: bool


def _strips(rows: int, columns: int) -> Iterator[slice]:
    step = max(1, _STRIP_PIXELS // max(columns, 1))
    for start in range(0, rows, step):
        yield slice(start, min(rows, start + step))


def _voi_count(header: Dataset) -> tuple[str, int]:
    """Which kind of VOI the file has and how many: ("VOI LUT", n), ("window", n) or ("", 0).
    Like pydicom's `apply_voi_lut(prefer_lut=True)`, a VOI LUT Sequence wins over windows."""
    sequence = header.get("VOILUTSequence")
    if sequence:
        return "VOI LUT", len(sequence)
    center, width = header.get("WindowCenter"), header.get("WindowWidth")
    if center is None or width is None or center == "" or width == "":
        return "", 0
    return "window", min(header["WindowCenter"].VM, header["WindowWidth"].VM)


def _voi_index(header: Dataset, options: DicomOptions) -> tuple[int | None, str]:
    """The VOI to apply (None: full range) and the words that say so in the record."""
    kind, count = _voi_count(header)
    if options.window == "full-range":
        return None, "full range (asked)"
    if count == 0:
        return None, "full range (no window in the file)"
    index = 0 if options.window == "first" else int(options.window)
    if index >= count:
        raise PixelProblem(f"window {index} asked, the file has {count} {kind}(s) (0..{count - 1})")
    if kind == "VOI LUT":
        return index, f"VOI LUT index {index} of {count}"
    center, width = (_nth(header["WindowCenter"], index), _nth(header["WindowWidth"], index))
    function = str(header.get("VOILUTFunction") or "LINEAR").upper()
    return (
        index,
        f"window index {index} of {count} (center {center:g}, width {width:g}, {function})",
    )


def _nth(element: Any, index: int) -> float:
    return float(element.value[index] if element.VM > 1 else element.value)


def _voi_range(header: Dataset, index: int) -> tuple[float, float]:
    """The output range of the chosen VOI: a VOI LUT's entries span 0..2^bits-1 (its LUT
    Descriptor); pydicom's windowing maps to the range it reports for -inf and +inf."""
    from pydicom.pixels import apply_voi_lut

    sequence = header.get("VOILUTSequence")
    if sequence:
        descriptor = sequence[index].LUTDescriptor
        bits = int(descriptor[2])
        if bits == 8 and int(descriptor[0] or 65536) > 256:
            # pydicom 3.0 indexes a LUT of 8-bit entries with uint8, which wraps the inputs above
            # 255; the same entries declared 16-bit (they are stored in 16-bit words anyway) map
            # every input. The output range stays that of the 8-bit entries.
            sequence[index].LUTDescriptor = [descriptor[0], descriptor[1], 16]
        return 0.0, float(2**bits - 1)
    ends = apply_voi_lut(np.array([-np.inf, np.inf]), header, index=index)
    return float(ends[0]), float(ends[1])


def _to_8bit(values: np.ndarray, low: float, high: float, out: np.ndarray) -> None:
    scale = 255.0 / (high - low) if high > low else 0.0
    scaled = (np.asarray(values, dtype=np.float64) - low) * scale
    np.clip(np.rint(scaled, out=scaled), 0, 255, out=scaled)
    out[...] = scaled


def _inverted(header: Dataset) -> bool:
    shape = header.get("PresentationLUTShape")
    if shape:
        return str(shape).strip().upper() == "INVERSE"
    return str(header.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"


def render_grey(frame: np.ndarray, header: Dataset, options: DicomOptions) -> Rendered:
    """Modality LUT -> VOI LUT -> presentation -> uint8, strip by strip."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    index, window = _voi_index(header, options)
    rows, columns = frame.shape
    out = np.empty((rows, columns), dtype=np.uint8)

    def modality(part: np.ndarray) -> np.ndarray:
        return apply_modality_lut(part, header)

    step: Callable[[np.ndarray], np.ndarray]
    if index is None:
        low, high = _range_of(frame, modality)
        step = modality
    else:
        low, high = _voi_range(header, index)
        chosen = index

        def step(part: np.ndarray) -> np.ndarray:
            return apply_voi_lut(modality(part), header, index=chosen)

    for strip in _strips(rows, columns):
        _to_8bit(step(frame[strip]), low, high, out[strip])
    inverted = _inverted(header)
    if inverted:
        np.subtract(255, out, out=out)
    return Rendered(out, window, inverted)


def _range_of(
    frame: np.ndarray, modality: Callable[[np.ndarray], np.ndarray]
) -> tuple[float, float]:
    """Minimum and maximum of the frame after the Modality LUT (which may be non-monotonic)."""
    low, high = np.inf, -np.inf
    for strip in _strips(*frame.shape):
        values = modality(frame[strip])
        low, high = min(low, float(values.min())), max(high, float(values.max()))
    return low, high


def render_colour(frame: np.ndarray, header: Dataset) -> Rendered:
    """RGB (pydicom has already converted YBR_* to RGB) or a palette through its colour LUT, as
    8-bit RGB."""
    from pydicom.pixels import apply_color_lut

    photometric = str(header.get("PhotometricInterpretation", "")).strip().upper()
    if photometric == "PALETTE COLOR":
        frame = apply_color_lut(frame, header)
        bits = 16 if frame.dtype.itemsize > 1 else 8
    else:
        bits = int(header.get("BitsStored") or 8)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise PixelProblem(f"a {photometric} frame of shape {frame.shape} is not RGB")
    if bits == 8 and frame.dtype == np.uint8:
        return Rendered(frame, "colour (no VOI)", False)
    out = np.empty(frame.shape, dtype=np.uint8)
    for strip in _strips(*frame.shape[:2]):
        _to_8bit(frame[strip], 0.0, float(2**bits - 1), out[strip])
    return Rendered(out, "colour (no VOI)", False)


def render(frame: np.ndarray, header: Dataset, options: DicomOptions) -> Rendered:
    photometric = str(header.get("PhotometricInterpretation", "")).strip().upper()
    if photometric in GREY:
        if frame.ndim != 2:
            raise PixelProblem(f"a {photometric} frame of shape {frame.shape} is not grey")
        return render_grey(frame, header, options)
    if photometric in COLOUR:
        return render_colour(frame, header)
    raise PixelProblem(f"Photometric Interpretation {photometric or '(none)'} is not supported")
