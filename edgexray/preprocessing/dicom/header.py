"""What the DICOM header says before any pixel is read: identifiers, the header gate, the size.

Only the attributes named here are ever read from a dataset: patient data (name, ID, birth date,
...) is never decoded, so it cannot reach a record, a log or an error message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgexray.preprocessing.dicom.options import DicomOptions

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def text(header: Dataset, keyword: str) -> str | None:
    """A short code attribute (Modality, BodyPartExamined, ViewPosition...) as upper-case text, or
    None when absent or empty."""
    value = header.get(keyword)
    if value is None:
        return None
    value = str(value).strip().upper()
    return value or None


def identifiers(header: Dataset) -> dict[str, Any]:
    """What a result carries so it can be matched back in the PACS: UIDs and view, never PHI."""
    return {
        "format": "dicom",
        "sop_instance_uid": _uid(header, "SOPInstanceUID"),
        "study_instance_uid": _uid(header, "StudyInstanceUID"),
        "modality": text(header, "Modality"),
        "view": text(header, "ViewPosition"),
    }


def _uid(header: Dataset, keyword: str) -> str | None:
    value = header.get(keyword)
    return str(value) if value else None


def gate_problem(header: Dataset, options: DicomOptions) -> str | None:
    """Why the header gate refuses this file ("Modality MR", "BodyPartExamined KNEE", "ViewPosition
    LL, the model was trained on PA, AP"), or None when it may go on."""
    if not options.gate:
        return None
    modality = text(header, "Modality")
    if modality not in options.modalities:
        return f"Modality {modality or '(none)'}, not {'/'.join(options.modalities)}"
    body_part = text(header, "BodyPartExamined")
    if body_part is not None and body_part not in options.body_parts:
        return f"BodyPartExamined {body_part}, not {'/'.join(options.body_parts)}"
    view = text(header, "ViewPosition")
    if options.views is not None and view is not None and view not in options.views:
        return f"ViewPosition {view}, the model was trained on {', '.join(options.views)}"
    return None


def frame_count(header: Dataset) -> int:
    try:
        return max(1, int(header.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def no_image_problem(header: Dataset) -> str | None:
    """Why there is no image to read: the header has no Rows/Columns (cut short, or not an image)."""
    if not header.get("Rows") or not header.get("Columns"):
        return "no image in this DICOM file (Rows/Columns missing: truncated, or not an image)"
    return None


def size_problem(header: Dataset, max_pixels: int) -> str | None:
    """Why the pixel data is not read: too many pixels (Rows x Columns x frames, from the header,
    before any pixel is decoded)."""
    rows, columns = int(header.Rows), int(header.Columns)
    pixels = int(rows) * int(columns) * frame_count(header)
    if pixels > max_pixels:
        return (
            f"refused, {columns}x{rows} pixels x {frame_count(header)} frame(s) exceeds the "
            f"limit of {max_pixels}"
        )
    return None
