"""`edgexray synth --format dicom` and the DICOM samples in models/samples/dicom."""

from __future__ import annotations

import shlex
import subprocess
import sys
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


# docs/dicom.md's example classifies the samples with the default (demo) model: the samples must be
# drawn as that model's training images were, and the docs must say how they were made. ----------

REPO = SAMPLES.parents[2]
DOCS = REPO / "docs" / "dicom.md"


def _docs_command(starts: str) -> list[str]:
    """The first command line in docs/dicom.md that starts with `starts`, as arguments (its
    comment dropped)."""
    for line in DOCS.read_text().splitlines():
        if line.startswith(starts):
            return shlex.split(line.split("#", 1)[0])
    raise AssertionError(f"docs/dicom.md has no command line `{starts}...`")


def test_the_docs_example_labels_every_sample_as_its_folder_says():
    command = _docs_command("edgexray classify models/samples/dicom")
    done = subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", *command[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    columns = header.split()
    labels = {
        Path(row.split()[columns.index("path")]): row.split()[columns.index("label")]
        for row in rows
    }
    assert len(labels) == 4
    assert {path.name: label for path, label in labels.items()} == {
        path.name: path.parent.name for path in labels
    }


def test_the_samples_are_what_the_documented_recipe_writes(tmp_path):
    from click.testing import CliRunner

    from edgexray.cli.main import cli

    recipe = _docs_command("edgexray synth OUT ")
    args = [str(tmp_path) if arg == "OUT" else arg for arg in recipe[1:]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    written = sorted(tmp_path.glob("*/*.dcm"))
    assert [p.relative_to(tmp_path) for p in written] == [
        p.relative_to(SAMPLES) for p in sorted(SAMPLES.glob("*/*.dcm"))
    ]
    for made in written:
        sample = SAMPLES / made.relative_to(tmp_path)
        expected = np.asarray(decode(made, "L").image, dtype=int)
        got = np.asarray(decode(sample, "L").image, dtype=int)
        # Within one grey level: float rounding in numpy and Pillow may move a pixel across one.
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1
