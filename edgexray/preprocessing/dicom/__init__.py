"""DICOM input: detection by name or content (no pydicom needed), header gate, pixel pipeline."""

from edgexray.preprocessing.dicom.detect import (
    DICOM_EXTENSIONS,
    has_dicom_magic,
    has_dicom_name,
    looks_like_dicom,
)
from edgexray.preprocessing.dicom.options import DicomOptions, parse_window

__all__ = [
    "DICOM_EXTENSIONS",
    "DicomOptions",
    "has_dicom_magic",
    "has_dicom_name",
    "looks_like_dicom",
    "parse_window",
]
