"""DICOM files as inputs of the classifier and the CLI: the header gate, identifiers and never any
patient data in an output, errors as records, folder scans, and the same answer as a PNG."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pydicom")  # the [dicom] extra; a device without it skips these
from click.testing import CliRunner
from dicom_files import PHI, dataset, ramp, save
from PIL import Image
from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1, RLELossless

from edgexray import exit_codes
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.cli.main import cli
from edgexray.errors import CardError, ImageError
from edgexray.explain.overlay import render_overlay
from edgexray.preprocessing import Preprocessor, discover_images
from edgexray.preprocessing.decode import decode
from edgexray.preprocessing.dicom import DicomOptions

# The test pixels are ramps and noise, not radiographs: the input checks (tested on their own) are off
# here, so that each test sees what the DICOM reader did.
UNCHECKED = ClassifierOptions(input_check="off")

ROOT = Path(__file__).resolve().parents[2]


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def model(carded):
    return carded("binary_gray.tflite")


def chest(path: Path, seed: int = 0, **tags) -> Path:
    pixels = ramp(40, 36, 15, seed=seed)
    return save(
        dataset(pixels, bits_stored=15, WindowCenter=16000, WindowWidth=24000, **tags), path
    )


# Header gate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"modality": "MR"}, "Modality MR"),
        ({"BodyPartExamined": "KNEE"}, "BodyPartExamined KNEE"),
    ],
)
def test_the_gate_refuses_what_is_not_a_chest_radiograph(tmp_path, tags, reason):
    ds = dataset(ramp(8, 8, 12), bits_stored=12, **tags)
    path = save(ds, tmp_path / "a.dcm")
    with pytest.raises(ImageError, match=reason) as caught:
        decode(path, "L")
    assert caught.value.source["sop_instance_uid"] == ds.SOPInstanceUID
    decode(path, "L", dicom=DicomOptions(gate=False))  # --dicom-gate off lets it through


def test_the_gate_takes_other_modalities_when_told(tmp_path):
    path = save(dataset(ramp(8, 8, 12), bits_stored=12, modality="RG"), tmp_path / "a.dcm")
    with pytest.raises(ImageError, match="Modality RG"):
        decode(path, "L")
    decode(path, "L", dicom=DicomOptions(modalities=("CR", "DX", "RG")))


def test_a_lateral_view_is_refused_by_a_frontal_only_card(tmp_path, carded):
    lateral = chest(tmp_path / "lateral.dcm", ViewPosition="LL")
    frontal = chest(tmp_path / "frontal.dcm", ViewPosition="PA")
    with Classifier(carded("binary_gray.tflite", views=("PA", "AP")), UNCHECKED) as clf:
        results = clf.predict_batch([lateral, frontal])
    assert "ViewPosition LL, the model was trained on PA, AP" in results[0].error
    assert results[0].source["view"] == "LL"
    assert results[1].ok and results[1].source["view"] == "PA"
    with Classifier(
        carded("binary_gray.tflite"), UNCHECKED
    ) as clf:  # no views on the card: no refusal
        assert clf.predict(lateral).ok


# Errors that are one record each ----------------------------------------------------------------


def test_the_pixel_limit_is_checked_from_the_header(tmp_path):
    ds = dataset(ramp(8, 8, 12), bits_stored=12)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 30000, 30000, 2
    path = save(ds, tmp_path / "bomb.dcm")  # the pixel data is far too short for that header
    with pytest.raises(ImageError, match=r"refused, 30000x30000 pixels x 2 frame\(s\) exceeds"):
        decode(path, "L")


def test_a_truncated_file_is_one_error_record(tmp_path, model):
    whole = chest(tmp_path / "whole.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole.read_bytes()[:-500])
    header_only = tmp_path / "header.dcm"
    header_only.write_bytes(whole.read_bytes()[:200])
    with Classifier(model, UNCHECKED) as clf:
        results = clf.predict_batch([cut, whole, header_only])
    assert "corrupt or truncated DICOM" in results[0].error
    assert results[1].ok
    assert "no image in this DICOM file" in results[2].error


# Same answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLosslessSV1])
def test_a_lossless_file_gives_exactly_the_probabilities_of_its_uncompressed_twin(
    tmp_path, model, syntax
):
    ds = dataset(ramp(50, 44, 15, seed=5), bits_stored=15, WindowCenter=9000, WindowWidth=12000)
    with Classifier(model, UNCHECKED) as clf:
        plain = clf.predict(save(ds, tmp_path / "plain.dcm"))
        packed = clf.predict(save(ds, tmp_path / "packed.dcm", syntax))
    assert packed.probabilities == plain.probabilities


@pytest.mark.parametrize("bits", [8, 16])
def test_a_dicom_made_from_a_png_gives_the_png_probabilities(tmp_path, model, bits):
    pixels = ramp(60, 48, bits, seed=7)  # both ends of the range present: full range is identity
    Image.fromarray(pixels).save(tmp_path / "x.png")
    save(dataset(pixels), tmp_path / "x.dcm")
    inverted = save(dataset(pixels, "MONOCHROME1"), tmp_path / "inverted.dcm")
    with Classifier(model, UNCHECKED) as clf:
        png, dcm, wrong = clf.predict_batch([tmp_path / "x.png", tmp_path / "x.dcm", inverted])
    assert dcm.probabilities == png.probabilities
    assert wrong.probabilities != png.probabilities  # the comparison can tell images apart
    assert png.source is None and dcm.source["format"] == "dicom"


# Finding DICOM files -----------------------------------------------------------------------------


def test_folder_scans_find_dicom_by_extension_and_by_magic(tmp_path):
    chest(tmp_path / "a.dcm")
    chest(tmp_path / "B.DICOM")
    chest(tmp_path / "1.2.840.10008.3.7")  # named by its UID: the suffix ".7" is no extension
    chest(tmp_path / "IM0001")
    chest(tmp_path / "scan.bin")  # a real extension: not searched, even with the magic
    save(dataset(ramp(8, 8, 12), bits_stored=12), tmp_path / "IM0002", preamble=False)
    (tmp_path / "README").write_text("not an image")
    (tmp_path / "1.2.3").write_text("not an image either")
    (tmp_path / "notes.txt").write_text("DICM" * 50)
    found = {p.name for p in discover_images([tmp_path]).files}
    assert found == {"a.dcm", "B.DICOM", "1.2.840.10008.3.7", "IM0001"}


# The CLI and patient data --------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["table", "csv", "json", "jsonl"])
def test_no_patient_data_in_any_output(tmp_path, model, output_format):
    folder = tmp_path / "in"
    folder.mkdir()
    chest(folder / "good.dcm")
    chest(folder / "gated.dcm", seed=1, modality="MR")
    truncated = folder / "truncated.dcm"
    truncated.write_bytes(chest(tmp_path / "t.dcm", seed=2).read_bytes()[:-300])
    save(
        dataset(ramp(8, 8, 12), bits_stored=12, WindowCenter=1, WindowWidth=0),
        folder / "badwindow.dcm",
    )
    result = run("classify", "-m", model, "--format", output_format, folder)
    assert result.exit_code == exit_codes.PARTIAL
    everything = result.stdout + result.stderr
    assert "good.dcm" in everything and "Modality MR" in everything
    for value in PHI.values():
        for form in (value, value.replace("^", " "), value.split("^")[0]):
            assert form not in everything


def test_cli_records_carry_identifiers_and_the_window(tmp_path, model):
    path = save(
        dataset(
            ramp(20, 20, 15), bits_stored=15, WindowCenter=[16000, 4000], WindowWidth=[20000, 3000]
        ),
        tmp_path / "a.dcm",
    )
    result = run("classify", "-m", model, "--format", "jsonl", "--dicom-window", "1", path)
    assert result.exit_code == exit_codes.OK, result.stderr
    record = json.loads(result.stdout)
    assert record["source"]["study_instance_uid"] == "1.2.826.0.1.3680043.10.1137.1"
    assert record["source"]["view"] == "PA"
    assert record["source"]["window"].startswith("window index 1 of 2")
    bad = run("classify", "-m", model, "--dicom-window", "wide", path)
    assert bad.exit_code == exit_codes.USAGE


def test_gate_off_on_the_command_line(tmp_path, model):
    path = chest(tmp_path / "mr.dcm", modality="MR")
    assert run("classify", "-m", model, path).exit_code == exit_codes.PARTIAL
    assert run("classify", "-m", model, "--dicom-gate", "off", path).exit_code == exit_codes.OK


# explain reads DICOM as classify does: same gate and window, the overlay drawn on what the model saw


def _record(result) -> dict:
    (line,) = result.stdout.splitlines()
    return json.loads(line)


@pytest.mark.parametrize(("gate", "code"), [("on", exit_codes.PARTIAL), ("off", exit_codes.OK)])
def test_explain_gates_a_modality_ot_file_as_classify_does(tmp_path, model, gate, code):
    path = chest(tmp_path / "ot.dcm", modality="OT")
    classified = run("classify", "-m", model, "--format", "jsonl", "--dicom-gate", gate, path)
    explained = run("explain", "-m", model, "--dicom-gate", gate, path, "-o", tmp_path / "ex")
    assert classified.exit_code == explained.exit_code == code, explained.output
    expected, record = _record(classified), _record(explained)
    assert {key: record.get(key) for key in expected} == expected
    assert ("Modality OT" in record.get("error", "")) is (gate == "on")
    assert (tmp_path / "ex" / "ot.overlay.png").is_file() is (gate == "off")


def test_explain_windows_the_model_input_and_the_overlay_alike(tmp_path, model):
    path = save(
        dataset(
            ramp(20, 20, 15), bits_stored=15, WindowCenter=[16000, 4000], WindowWidth=[20000, 3000]
        ),
        tmp_path / "a.dcm",
    )
    out = tmp_path / "ex"
    window = ("--dicom-window", "1")
    classified = run("classify", "-m", model, "--format", "jsonl", *window, path)
    explained = run("explain", "-m", model, *window, path, "-o", out)
    assert classified.exit_code == explained.exit_code == exit_codes.OK, explained.output
    expected = _record(classified)
    record = json.loads((out / "a.json").read_text())
    assert {key: record.get(key) for key in expected} == expected  # window 1's decision
    assert record["source"]["window"].startswith("window index 1 of 2")
    # The overlay is drawn on the film the model saw: the same window.
    heatmap = np.load(out / "a.heatmap.npy")
    overlay = np.asarray(Image.open(out / "a.overlay.png"))

    def drawn(window: int) -> np.ndarray:
        film = Preprocessor(16, 16, dicom=DicomOptions(window=window)).display(path)
        return np.asarray(render_overlay(film, heatmap, record["localized"]))

    assert np.array_equal(overlay, drawn(1))
    assert not np.array_equal(overlay, drawn(0))


# The optional extra ------------------------------------------------------------------------------

_WITHOUT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
from edgexray.preprocessing.decode import decode
from edgexray.errors import CardError, ImageError
try:
    decode(sys.argv[1], "L")
except ImageError as exc:
    print(exc)
"""


def _decode_without(path: Path, blocked: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT.format(blocked=blocked), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return result.stdout.strip()


def test_without_pydicom_the_error_names_the_extra(tmp_path):
    message = _decode_without(chest(tmp_path / "a.dcm"), ["pydicom"])
    assert message.startswith("DICOM files need pydicom, which is not installed: pip install '")
    assert "[dicom]'" in message and "'edgexray[" not in message


def test_without_the_decoder_a_compressed_file_names_the_extra(tmp_path):
    # Pillow decodes JPEG 2000 too, so the test hides the decoder of JPEG lossless.
    ds = dataset(ramp(64, 64, 12), bits_stored=12)
    message = _decode_without(
        save(ds, tmp_path / "a.dcm", JPEGLosslessSV1), ["libjpeg", "pylibjpeg"]
    )
    assert "compressed as JPEG Lossless" in message and "[dicom]'" in message
    assert "\n" not in message


def test_import_edgexray_does_not_import_pydicom():
    code = "import sys, edgexray, edgexray.cli.main; print('pydicom' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def test_training_folders_and_calibration_folders_take_dicom(tmp_path):
    from edgexray_export.calibration import scan_images
    from edgexray_export.data.folders import load_pixels, scan_folder

    from edgexray.preprocessing import Preprocessor

    for name in ("NORMAL", "PNEUMONIA"):
        (tmp_path / name).mkdir()
        for i in range(4):
            chest(tmp_path / name / f"{i}.dcm", seed=i)
    dataset_ = scan_folder(tmp_path)
    assert sum(len(split) for split in dataset_.splits.values()) == 8
    pixels = load_pixels(dataset_.splits["train"].files, Preprocessor(16, 16))
    assert pixels.shape[1:] == (16, 16, 1) and pixels.std() > 0
    assert len(scan_images(tmp_path)) == 8


def test_card_views_round_trip_and_leave_old_digests_alone():
    from conftest import tiny_card

    from edgexray.card import ModelCard

    card = tiny_card("binary_gray.tflite", views=["pa", "AP"])
    assert card.views == ("PA", "AP")
    assert ModelCard.from_json(card.sealed().to_json()).views == ("PA", "AP")
    plain = tiny_card("binary_gray.tflite")
    assert "views" not in plain.to_dict()  # a card sealed before views existed keeps its digest
    with pytest.raises(CardError, match="views must list"):
        tiny_card("binary_gray.tflite", views=[])


@pytest.mark.filterwarnings("ignore")
def test_damaged_headers_are_error_records_never_tracebacks(tmp_path):
    """Seeded byte flips and cuts anywhere in a file: each either reads or is one ImageError line
    without patient data (pydicom converts elements lazily, so damage surfaces on first use)."""
    base = chest(tmp_path / "base.dcm").read_bytes()
    rng = np.random.default_rng(0)
    target = tmp_path / "damaged.dcm"
    failures = 0
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(128, 1200)] = rng.integers(0, 256)
        if rng.random() < 0.3:
            data = data[: rng.integers(132, len(data))]
        target.write_bytes(bytes(data))
        try:
            decode(target, "L")
        except ImageError as exc:
            failures += 1
            message = str(exc)
            assert "\n" not in message and not any(value in message for value in PHI.values())
    assert 0 < failures < 300


def test_dicom_bytes_and_file_objects_read_like_the_file(tmp_path, model):
    import io

    path = chest(tmp_path / "a.dcm")
    data = path.read_bytes()
    stream = io.BytesIO(b"junk" + data)
    stream.seek(4)  # read from where the stream is, as an upload handler may leave it
    with Classifier(model, UNCHECKED) as clf:
        from_file, from_bytes, from_stream = clf.predict_batch([path, data, stream])
    assert from_bytes.probabilities == from_file.probabilities == from_stream.probabilities
    assert from_stream.source == from_file.source
