"""`classify --dicom-sr DIR`: a TID 1500 SR (and with --dicom-overlay a heatmap Secondary Capture)
per DICOM input, valid by dciodvfy, read back by highdicom with the record's probability, patient
data copied into the objects and never into any output."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")  # the [pacs] extra; a device without it skips these
import highdicom as hd
import pydicom
from click.testing import CliRunner
from dicom_files import PHI, dataset, ramp, save
from system_commands import require_command

from edgexray import exit_codes
from edgexray.cli.main import cli
from edgexray.demo import default_model
from edgexray.errors import EdgexrayError
from edgexray.extras import install_hint
from edgexray.pacs.codes import Code, says_not_for_clinical_use
from edgexray.pacs.results import DicomResults, ResultError
from edgexray.pacs.settings import ResultSettings
from edgexray.pacs.uids import check_root, new_uid
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import input_from_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "models" / "samples" / "dicom"


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def objects(folder: Path) -> dict[str, list[pydicom.Dataset]]:
    """The objects in `folder` by Modality (SR, OT)."""
    found: dict[str, list[pydicom.Dataset]] = {}
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        found.setdefault(str(ds.Modality), []).append(ds)
    return found


def texts(ds: pydicom.Dataset) -> set[str]:
    """Every TEXT value in an SR's content tree (the algorithm's name, version, parameters)."""
    found = set()
    for item in ds.get("ContentSequence", []):
        if "TextValue" in item:
            found.add(str(item.TextValue))
        found |= texts(item)
    return found


def report_of(ds: pydicom.Dataset) -> dict[str, object]:
    """What an SR says, read back with highdicom: per finding, the probability, the evaluations
    and the referenced source instance."""
    document = hd.sr.Comprehensive3DSR.from_dataset(ds)
    groups = document.content.get_image_measurement_groups()
    said: dict[str, object] = {}
    for group in groups:
        finding = group.finding_type.meaning
        said[finding] = {
            "probability": [m.value for m in group.get_measurements()],
            "evaluations": {
                q.name.meaning: q.value.meaning for q in group.get_qualitative_evaluations()
            },
            "source": [s.referenced_sop_instance_uid for s in group.source_images],
        }
    return said


@pytest.fixture(scope="module")
def sample_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("results")
    result = run("classify", SAMPLES, "--format", "jsonl", "--dicom-sr", folder, "--dicom-overlay")
    assert result.exit_code == exit_codes.OK, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return folder, records


def test_the_objects_written_from_the_samples_pass_dciodvfy(sample_results):
    dciodvfy = require_command("dciodvfy", "dicom3tools")
    folder, records = sample_results
    files = sorted(folder.iterdir())
    assert len(files) == 2 * len(records) == 8
    for path in files:
        checked = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True)
        report = checked.stdout + checked.stderr
        errors = [line for line in report.splitlines() if line.startswith("Error")]
        assert errors == [], f"{path.name}:\n{report}"
        assert report.splitlines()[1].strip() in {"Comprehensive3DSR", "SCImage"}, report


def test_each_sr_says_the_records_probability_and_decision(sample_results):
    folder, records = sample_results
    by_source = {r["source"]["sop_instance_uid"]: r for r in records}
    reports = objects(folder)["SR"]
    assert len(reports) == len(records)
    for ds in reports:
        said = report_of(ds)
        assert list(said) == ["Pneumonia"]  # the binary model's positive class, coded
        pneumonia = said["Pneumonia"]
        (source_uid,) = pneumonia["source"]
        record = by_source[source_uid]
        assert pneumonia["probability"] == [record["probabilities"]["PNEUMONIA"]]
        decided = "Present" if record["label"] == "PNEUMONIA" else "Absent"
        assert pneumonia["evaluations"] == {
            "Pneumonia": decided,
            "Input check": "Input check passed",
            "Intended use": "Not for clinical use",
        }
        algorithm = texts(ds)
        assert record["model"]["name"] in algorithm
        assert f"model sha256 {record['model']['sha256']}" in algorithm
        assert f"card sha256 {record['model']['card_sha256']}" in algorithm
        assert "signer not signed" in algorithm
        assert ds.StudyInstanceUID == record["source"]["study_instance_uid"]
        assert ds.PatientName == "SYNTHETIC^DEMO"  # the patient module, copied from the source
        evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
        assert (
            evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            == source_uid
        )


def test_each_overlay_is_a_derived_burned_in_secondary_capture(sample_results):
    folder, records = sample_results
    sources = {r["source"]["sop_instance_uid"] for r in records}
    overlays = objects(folder)["OT"]
    assert len(overlays) == len(records)
    for ds in overlays:
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
        assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert ds.BurnedInAnnotation == "YES"
        assert list(ds.PatientOrientation) == ["L", "F"]
        assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID in sources
        assert ds.pixel_array.shape[-1] == 3 and ds.PhotometricInterpretation == "RGB"


def chest(path: Path, seed: int = 0, **tags: object) -> Path:
    pixels = ramp(40, 36, 15, seed=seed)
    return save(
        dataset(pixels, bits_stored=15, WindowCenter=16000, WindowWidth=24000, **tags), path
    )


def test_patient_data_goes_into_the_objects_and_nowhere_else(tmp_path, carded):
    model = carded("binary_gray.tflite")
    chest(tmp_path / "in" / "good.dcm") if (tmp_path / "in").mkdir() is None else None
    out = tmp_path / "out"
    result = run(
        "classify", "-m", model, "--format", "jsonl", "--dicom-sr", out, tmp_path / "in",
    )  # fmt: skip
    assert result.exit_code == exit_codes.OK, result.stderr
    everything = result.stdout + result.stderr
    for value in PHI.values():
        for form in (value, value.replace("^", " "), value.split("^")[0]):
            assert form not in everything
    (report,) = objects(out)["SR"]
    assert report.PatientID == PHI["PatientID"] and report.AccessionNumber == PHI["AccessionNumber"]


def test_an_image_the_checks_refuse_gets_an_sr_saying_so_without_a_probability(tmp_path):
    flat = np.full((64, 64), 1000, dtype=np.uint16)  # a uniform image: the checks refuse it
    path = save(dataset(flat, bits_stored=12), tmp_path / "flat.dcm")
    out = tmp_path / "out"
    result = run(
        "classify", "--input-check", "strict", "--format", "jsonl", "--dicom-sr", out, path
    )  # fmt: skip
    assert result.exit_code == exit_codes.PARTIAL
    record = json.loads(result.stdout)
    assert record["rejected"], record
    (report,) = objects(out)["SR"]
    said = report_of(report)["Pneumonia"]
    assert said["probability"] == []
    assert said["evaluations"]["Input check"] == "Input check rejected"
    assert "Pneumonia" not in said["evaluations"]


def test_every_label_of_a_multiclass_model_needs_a_code(tmp_path, carded):
    model = carded("three_rgb.tflite")
    path = chest(tmp_path / "a.dcm")
    out = tmp_path / "out"
    refused = run("classify", "-m", model, "--dicom-sr", out, path)
    assert refused.exit_code == exit_codes.USAGE
    assert "no finding code for label(s) COVID" in refused.stderr
    coded = run(
        "classify", "-m", model, "--dicom-sr", out,
        "--dicom-code", "COVID=SCT:840539006:COVID-19", "--dicom-uid-root", "1.2.826.0.1.3680043.10.1137",
        path,
    )  # fmt: skip
    assert coded.exit_code == exit_codes.OK, coded.stderr
    (report,) = objects(out)["SR"]
    assert sorted(report_of(report)) == ["COVID-19", "Normal", "Pneumonia"]
    assert report.SOPInstanceUID.startswith("1.2.826.0.1.3680043.10.1137.")
    assert len(report.SOPInstanceUID) <= 64


@pytest.mark.parametrize(
    "args",
    [
        ["--dicom-overlay"],
        ["--dicom-sr", "out", "--dicom-uid-root", "1.02.3"],
        ["--dicom-sr", "out", "--dicom-code", "PNEUMONIA=SCT233604007"],
    ],
    ids=["overlay-without-sr", "bad-root", "bad-code"],
)
def test_bad_result_options_are_usage_errors(tmp_path, args):
    result = run("classify", *args, SAMPLES)
    assert result.exit_code == exit_codes.USAGE, result.output


def test_a_file_changed_since_its_decision_gets_no_result():
    from edgexray.classifier import Classifier

    with Classifier(default_model()) as classifier:
        writer = DicomResults(classifier.identity, classifier.card, ResultSettings())
        data = (SAMPLES / "NORMAL" / "NORMAL_00000.dcm").read_bytes()
        prediction = classifier.predict(input_from_bytes(data, "a.dcm"))
        assert len(writer.make(input_from_bytes(data, "a.dcm"), prediction)) == 1
        with pytest.raises(ResultError, match="changed since it was classified"):
            writer.make(input_from_bytes(data + b"\0", "a.dcm"), prediction)
        bare = Prediction(path="a.dcm", sha256=None, source={"format": "dicom"})
        with pytest.raises(ResultError, match="no SOPClassUID, SOPInstanceUID"):
            writer.make(input_from_bytes(b"\x00" * 10, "a.dcm"), bare)
        odd = pydicom.dcmread(SAMPLES / "NORMAL" / "NORMAL_00000.dcm")
        odd.PatientSex = "Q"  # not M, F or O: highdicom refuses it
        buffer = io.BytesIO()
        odd.save_as(buffer)
        source = input_from_bytes(buffer.getvalue(), "odd.dcm")
        with pytest.raises(ResultError, match=r"odd.dcm: highdicom cannot make .*\(ValueError\)"):
            writer.make(source, classifier.predict(source))
        png = Prediction(path="a.png", sha256=prediction.sha256, label="NORMAL")
        with pytest.raises(ResultError, match="no decision on a DICOM image"):
            writer.make(input_from_bytes(data, "a.png"), png)


def test_uids_and_codes():
    assert new_uid().startswith("2.25.") and len(new_uid()) <= 64
    assert all(len(new_uid("1." * 21 + "1")) <= 64 for _ in range(50))
    for bad in ("", "1..2", "1.02", "a.b", "1." * 30 + "1"):
        with pytest.raises(ValueError):
            check_root(bad)
    assert Code.parse("SCT:233604007:Pneumonia") == Code("SCT", "233604007", "Pneumonia")
    assert says_not_for_clinical_use("Not validated for clinical use.")
    assert not says_not_for_clinical_use("Cleared for clinical use in adults.")


def test_without_the_pacs_extra_one_line_names_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "highdicom" else real(name, *a),
    )
    result = CliRunner().invoke(cli, ["classify", str(SAMPLES), "--dicom-sr", "out"])
    assert isinstance(result.exception, EdgexrayError)
    assert str(result.exception) == (
        f"this needs highdicom, which is not installed: {install_hint('pacs')}"
    )
