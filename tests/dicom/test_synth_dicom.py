"""`edgexray synth --format dicom` and the DICOM samples in models/samples/dicom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pydicom")  # the [dicom] extra; a device without it skips these
import pydicom
from edgexray_export.data.synthetic import SynthConfig, generate_image, write_dataset

from edgexray.preprocessing.decode import decode

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "samples" / "dicom"


def test_synthetic_dicom_shows_the_same_picture_as_the_png(tmp_path):
    config = SynthConfig(count=4, min_side=40, max_side=48, file_format="dicom", seed=3)
    files = write_dataset(tmp_path, config)
    assert len(files) == 8 and all(f.suffix == ".dcm" for f in files)
    photometrics = set()
    for path in files:
        class_name, index = path.stem.split("_")
        expected = generate_image(class_name, int(index), config).pixels
        decoded = decode(path, "L")
        got = np.asarray(decoded.image).astype(int)
        assert np.abs(got - np.rint(expected * 255)).max() <= 1
        header = pydicom.dcmread(path, stop_before_pixels=True)
        assert header.Modality == "CR" and header.BodyPartExamined == "CHEST"
        assert str(header.PatientName) == "SYNTHETIC^DEMO"
        photometrics.add(header.PhotometricInterpretation)
        assert decoded.source["sop_instance_uid"] == header.SOPInstanceUID
    assert photometrics == {"MONOCHROME1", "MONOCHROME2"}
    again = write_dataset(tmp_path / "again", config)
    uids = [
        pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in (files[0], again[0])
    ]
    assert uids[0] == uids[1]  # deterministic, like the pixels


def test_the_dicom_samples_read_and_pass_the_gate():
    files = sorted(SAMPLES.glob("*/*.dcm"))
    assert len(files) == 4
    assert sum(f.stat().st_size for f in files) < 300_000
    for path in files:
        decoded = decode(path, "L")
        assert decoded.source["modality"] == "CR" and decoded.source["view"] == "PA"
