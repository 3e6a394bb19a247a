"""DICOM test files made with pydicom: any photometric, bit depth and transfer syntax, with a header
full of (fake) patient data, so tests can check that none of it leaks into any output."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

# Values that must never appear in any output, log or error message.
PHI = {
    "PatientName": "Phiname^Secretta",
    "PatientID": "PHI-ID-98765",
    "PatientBirthDate": "19230407",
    "PatientAddress": "17 Confidential Lane",
    "OtherPatientIDs": "PHI-OTHER-4242",
    "ReferringPhysicianName": "Docphi^Hidden",
    "InstitutionName": "Secret General Hospital",
    "AccessionNumber": "ACCPHI31337",
}
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


def ramp(rows: int, columns: int, bits: int, signed: bool = False, seed: int = 0) -> np.ndarray:
    """Random pixels over the whole range of `bits`, both ends included."""
    rng = np.random.default_rng(seed)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    dtype = ("int" if signed else "uint") + ("8" if bits <= 8 else "16")
    values = rng.integers(low, high + 1, (rows, columns)).astype(dtype)
    values.flat[0], values.flat[-1] = low, high
    return values


def dataset(
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    modality: str = "CR",
    **tags: Any,
) -> Dataset:
    """A CR image with `pixels` (H, W) or (H, W, 3) or (frames, H, W), PHI in the header, and any
    extra `tags` (WindowCenter=..., RescaleSlope=...)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CR_IMAGE_STORAGE
    ds.SOPClassUID = CR_IMAGE_STORAGE
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1137.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1137.1.1"
    ds.Modality = modality
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    bits = bits_stored or pixels.dtype.itemsize * 8
    ds.set_pixel_data(pixels, photometric, bits)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if pixels.ndim == 3 and photometric in ("MONOCHROME1", "MONOCHROME2"):
        ds.NumberOfFrames = pixels.shape[0]
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def save(
    ds: Dataset, path: Path, syntax: UID = ExplicitVRLittleEndian, preamble: bool = True
) -> Path:
    """Write `ds` (a copy) in `syntax`: a native one, or a compressed one (RLE and JPEG 2000 by
    pydicom's encoders, JPEG lossless, 12-bit JPEG and JPEG-LS by imagecodecs, JPEG baseline by
    Pillow)."""
    ds = copy.deepcopy(ds)
    if syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        ds.file_meta.TransferSyntaxUID = syntax
    elif syntax == ExplicitVRBigEndian:
        values = ds.pixel_array  # read while the dataset still says little endian
        ds.PixelData = values.astype(values.dtype.newbyteorder(">")).tobytes()
        ds.file_meta.TransferSyntaxUID = syntax
    elif syntax in (RLELossless, JPEG2000Lossless):
        ds.compress(syntax, generate_instance_uid=False)
    elif syntax == JPEG2000:
        ds.compress(syntax, j2k_cr=[10], generate_instance_uid=False)
    else:
        _encapsulate(ds, syntax)
    ds.save_as(
        path,
        enforce_file_format=preamble,
        implicit_vr=syntax == ImplicitVRLittleEndian,
        little_endian=syntax != ExplicitVRBigEndian,
    )
    return path


def _encapsulate(ds: Dataset, syntax: UID) -> None:
    import imagecodecs

    frame = ds.pixel_array
    if syntax == JPEGBaseline8Bit:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=95)
        data = buffer.getvalue()
    elif syntax == JPEGLosslessSV1:
        data = imagecodecs.jpeg8_encode(
            frame, lossless=True, bitspersample=int(ds.BitsStored), predictor=1
        )
    elif syntax == JPEGExtended12Bit:
        data = imagecodecs.jpeg8_encode(frame, level=95, bitspersample=12)
    elif syntax == JPEGLSLossless:
        data = imagecodecs.jpegls_encode(frame, level=0)
    else:
        raise ValueError(f"no encoder for {syntax.name} in these tests")
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([data])
    ds["PixelData"].VR = "OB"
    if syntax == JPEGBaseline8Bit and ds.SamplesPerPixel == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"
