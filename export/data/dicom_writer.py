"""Write a synthetic radiograph as a DICOM CR file, as a CR unit would store it (demo data only).

12 bits stored in 16, MONOCHROME1 or MONOCHROME2 (MONOCHROME1 stores the inverted values, so both
show the same picture), one window over the whole range, realistic CR tags, and identifiers that
are made up and deterministic: the patient is "SYNTHETIC^DEMO", never a real person.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from edgexray_export.errors import ExportError

from edgexray.extras import install_hint

if TYPE_CHECKING:
    from pydicom.uid import UID

BITS_STORED = 12
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
INSTALL_HINT = install_hint("dicom")


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise ExportError(
            f"writing DICOM needs pydicom, which is not installed: {INSTALL_HINT}"
        ) from None
    return pydicom


def _uid(*parts: object) -> UID:
    """A UID derived from `parts` (pydicom's prefix), so the same image always gets the same one."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(p) for p in parts])


def stored_values(image: np.ndarray, photometric: str) -> np.ndarray:
    """float 0..1 (1 = dense, white) -> the 12-bit values a CR stores for `photometric`."""
    values = np.rint(np.clip(image, 0, 1) * (2**BITS_STORED - 1)).astype(np.uint16)
    return (2**BITS_STORED - 1) - values if photometric == "MONOCHROME1" else values


def write_dicom(image: np.ndarray, path: Path, key: tuple[object, ...], photometric: str) -> Path:
    """Write `image` (float32 0..1, H x W) to `path` + ".dcm"; `key` (seed, class, index) makes the
    UIDs and the fake patient ID. Returns the file written."""
    pydicom = _pydicom()
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(CR_IMAGE_STORAGE)
    ds.SOPClassUID = CR_IMAGE_STORAGE
    ds.StudyInstanceUID = _uid("study", *key)
    ds.SeriesInstanceUID = _uid("series", *key)
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:10].upper()
    ds.PatientName = "SYNTHETIC^DEMO"
    ds.PatientID = f"SYNTH-{digest}"
    ds.AccessionNumber = f"SYN{digest[:8]}"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
    ds.StudyTime = ds.ContentTime = "120000"
    ds.Modality = "CR"
    ds.Manufacturer = "edgexray synth (synthetic image, not for clinical use)"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImagerPixelSpacing = [0.15, 0.15]
    ds.set_pixel_data(stored_values(image, photometric), photometric, BITS_STORED)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = _uid("instance", *key)
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 2 ** (BITS_STORED - 1), 2**BITS_STORED
    ds.PresentationLUTShape = "INVERSE" if photometric == "MONOCHROME1" else "IDENTITY"
    target = path.with_suffix(".dcm")
    pydicom.dcmwrite(target, ds, enforce_file_format=True)
    return target
