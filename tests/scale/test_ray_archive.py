"""`bench --ray` (variants compared over an archive) and classify --ray's options (DICOM reading,
input checks, audit log), in process, on one real local Ray for the module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from click.testing import CliRunner, Result  # noqa: E402
from conftest import run_edgexray  # noqa: E402

from edgexray.card import ModelCard  # noqa: E402
from edgexray.classifier import Classifier, ClassifierOptions  # noqa: E402
from edgexray.cli.main import cli  # noqa: E402
from edgexray.demo import default_model, samples_folder  # noqa: E402
from edgexray.metrics import classification_metrics  # noqa: E402
from edgexray.parity import measure_parity  # noqa: E402
from edgexray.postprocess import decide  # noqa: E402

pytestmark = pytest.mark.slow

MODELS = default_model().parent
INT8 = MODELS / "seed_cnn.tflite-int8.tflite"
FP32 = MODELS / "seed_cnn.tflite-fp32.tflite"
DYNAMIC = MODELS / "seed_cnn.tflite-dynamic.tflite"
DICOM_SAMPLES = samples_folder().parent / "dicom"


def _edgexray(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample images in their class folders, the same files again under other names (an
    archive repeats itself), and one corrupt file."""
    folder = tmp_path_factory.mktemp("archive")
    shutil.copytree(samples_folder(), folder, dirs_exist_ok=True)
    for file in sorted(folder.rglob("*.*")):
        shutil.copy(file, file.with_name(f"copy-{file.name}"))
    (folder / "NORMAL" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def _in_process(models: list[Path], files: list[Path]) -> list[tuple[np.ndarray, ModelCard]]:
    """Each model's probabilities on the files by the plain runtime (no Ray, checks off), and
    its card."""
    out = []
    for model in models:
        options = ClassifierOptions(input_check="off", decode_workers=0)
        with Classifier(model, options) as classifier:
            predictions = [classifier.predict(f).probabilities for f in files]
            rows = [[p[label] for label in classifier.labels] for p in predictions]
            out.append((np.array(rows), classifier.card))
    return out


def test_bench_ray_gives_bench_parity_and_metrics_over_the_archive(local_ray, archive, tmp_path):
    report_path = tmp_path / "archive.json"
    done = _edgexray(
        "bench", "--ray", "-m", INT8, "-m", FP32, "-m", DYNAMIC,
        "--data", archive, "--json", report_path, "--actors", 2,
    )  # fmt: skip
    assert done.exit_code == 3, done.output  # the corrupt file: counted, the others judged
    report = json.loads(report_path.read_text())
    assert report["comparison"]["against"] == "tflite-fp32"  # the most exact, as bench picks
    assert report["data"]["unreadable"] == 1
    files = sorted(p for p in archive.rglob("*.*") if p.name != "broken.png")
    assert report["data"]["labelled_judged"] == len(files)
    labels = ("NORMAL", "PNEUMONIA")
    truth = np.array([labels.index(f.parent.name) for f in files])
    int8, (fp32, card), dynamic = _in_process([INT8, FP32, DYNAMIC], files)
    rows = {row["name"]: row for row in report["results"]}
    assert rows["tflite-fp32"]["role"] == "reference" and rows["tflite-fp32"]["agreement"] is None
    for name, (probabilities, own_card) in (("tflite-int8", int8), ("tflite-dynamic", dynamic)):
        expected = measure_parity(fp32, probabilities, card, variant_card=own_card)
        row = rows[name]
        assert row["parity_images"] == len(files) == row["images"]
        assert row["agreement"] == expected.agreement
        assert row["decisions_changed"] == expected.decisions_changed
        assert row["max_abs_diff"] == pytest.approx(expected.max_abs_diff, abs=1e-6)
        assert row["mean_abs_diff"] == pytest.approx(expected.mean_abs_diff, abs=1e-7)
        decided = decide(probabilities, own_card)
        metrics = classification_metrics(truth, decided, labels).to_dict()
        assert row["metrics"] == metrics
    assert "agreement vs tflite-fp32" in done.output and "tflite-int8" in done.output


def test_bench_ray_refuses_timing_flags(tmp_path):
    done = _edgexray("bench", "--ray", "-m", INT8, "--data", tmp_path, "--recommend", "0.99")
    assert done.exit_code == 2 and "--ray compares variants" in done.output


def test_classify_ray_refuses_explain_with_a_reason(tmp_path):
    done = run_edgexray(
        "classify", "--ray", "--explain", str(tmp_path / "x"), "-o", str(tmp_path / "r.jsonl")
    )
    assert done.returncode == 2
    assert "workers would write the overlays on their own disks" in done.stderr
    assert "Traceback" not in done.stderr


def _jsonl(path: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["path"]: r for r in records}


def _classify_json(*args: object) -> dict[str, dict]:
    done = _edgexray("classify", "--format", "json", *args)
    return {r["path"]: r for r in json.loads(done.stdout)}


@pytest.mark.parametrize(
    "flags",
    [("--dicom-window", "full-range"), ("--dicom-modalities", "DX")],
    ids=["window", "gate"],
)
def test_dicom_flags_reach_the_workers(local_ray, tmp_path, flags):
    pytest.importorskip("pydicom")
    out = tmp_path / "records.jsonl"
    done = _edgexray("classify", "--ray", DICOM_SAMPLES, *flags, "-o", out)
    expected = _classify_json(DICOM_SAMPLES, *flags)
    ours = _jsonl(out)
    assert sorted(ours) == sorted(expected) and len(ours) == 4
    for path, record in expected.items():
        got = ours[path]
        assert got.get("source") == record.get("source")  # the window applied, named
        assert got.get("error") == record.get("error")  # the gate's refusal
        for label, p in record.get("probabilities", {}).items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-6)
    if flags[0] == "--dicom-modalities":
        assert done.exit_code == 3 and all("error" in r for r in ours.values())
    else:
        assert done.exit_code == 0
        assert {r["source"]["window"] for r in ours.values()} == {"full range (asked)"}


def test_input_check_mode_reaches_the_workers(local_ray, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(samples_folder() / "NORMAL", folder)
    from PIL import Image

    Image.new("L", (512, 512), 128).save(folder / "blank.png")  # the checks refuse a flat frame
    blank = str(folder / "blank.png")
    for mode, status in (("strict", "rejected"), ("off", "off")):
        out = tmp_path / f"{mode}.jsonl"
        done = _edgexray("classify", "--ray", folder, "--input-check", mode, "-o", out)
        record = _jsonl(out)[blank]
        assert record["input_check"]["status"] == status
        assert ("rejected" in record) is (mode == "strict") and ("label" in record) is (
            mode == "off"
        )
        assert done.exit_code == (3 if mode == "strict" else 0)


def test_audit_lines_are_written_on_the_driver_one_per_record(local_ray, archive, tmp_path):
    out, audit = tmp_path / "records.jsonl", tmp_path / "audit.jsonl"
    done = _edgexray("classify", "--ray", archive, "--audit", audit, "-o", out)
    assert done.exit_code == 3, done.output  # the corrupt file
    records = _jsonl(out)
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert sorted(line["input"]["name"] for line in lines) == sorted(records)
    assert len({line["request_id"] for line in lines}) == 1  # one run
    for line in lines:
        record = records[line["input"]["name"]]
        assert line["mode"] == "classify" and line["model"]["variant"] == "tflite-int8"
        assert line["label"] == record.get("label") and line["error"] == record.get("error")
        if "error" not in record:
            assert line["input"]["sha256"] is not None
            assert line["probabilities"] == record["probabilities"]


def test_trusted_keys_are_checked_on_the_driver(local_ray, tmp_path):
    pytest.importorskip("cryptography")
    from edgexray.signing.keys import generate_key_pair
    from edgexray.signing.sign import sign_model

    private, public, _ = generate_key_pair(tmp_path / "site")
    signed, unsigned = tmp_path / "signed.tflite", tmp_path / "unsigned.tflite"
    shutil.copy(INT8, signed)
    shutil.copy(INT8, unsigned)
    sign_model(signed, private)
    images = samples_folder() / "NORMAL"
    out = tmp_path / "records.jsonl"
    refused = run_edgexray(
        "classify", "--ray", "-m", str(unsigned), "--trusted-key", str(public), "-o", str(out),
        str(images),
    )  # fmt: skip
    assert refused.returncode == 1 and not out.exists()  # refused before Ray starts
    assert len(refused.stderr.strip().splitlines()) == 1 and "unsigned.tflite" in refused.stderr
    done = _edgexray("classify", "--ray", "-m", signed, "--trusted-key", public, "-o", out, images)
    assert done.exit_code == 0, done.output
    assert len(_jsonl(out)) == len(list(images.iterdir()))
