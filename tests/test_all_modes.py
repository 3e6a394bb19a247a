"""Issue 23's proof: one folder of ordinary and hostile inputs through every mode, and every mode
decides each input the same way (probabilities within 1e-6, or the same refusal reason), without
a crash or a hang (every child process has a timeout).

The modes: `classify --format jsonl` (the reference the others are compared with), `watch --once`
(a real process), `serve` (a real process on a free port, one upload per input), `classify --ray`
(a local Ray; slow), bench's parity pass (a real measuring child), the Python API
(`Classifier.iter_predictions`) and `explain`. The processes that read the folder run as the
kiosk's service user would (see conftest.service_user), so the chmod 000 file is unreadable to
them even when the tests run as root; where that cannot be arranged, that one input is left out.

What a mode cannot take by design, and so is not sent to it:
- serve receives uploaded bytes, not files: a FIFO or a file the client cannot read never
  reaches it (the client fails first).
- bench's parity pass measures images every mode decides: it runs with the input checks in
  `warn` (each image of a bench set keeps its label) and is given readable, decodable images only
  (bench's data loader lists files, it has no per-file refusal record).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import service_user, skip_unless_an_engine_reads, unreadable_for
from PIL import Image

from edgexray import exit_codes

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "demo" / "seed_cnn.tflite-int8.tflite"
SAMPLES = REPO / "models" / "samples"
TOLERANCE = 1e-6
TIMEOUT_S = 180

# Each input's file name starts with its key, so a record is matched to its input whatever a mode
# does to the rest of the name (a folder prefix, the escaped non-UTF-8 byte, an upload's name).
# A DICOM file where pydicom is installed (the [dicom] extra); a device install without it refuses
# DICOM files in one line, which tests/dicom covers.
HAS_DICOM = importlib.util.find_spec("pydicom") is not None
ORDINARY = ("png", "jpeg", "non-utf8", *(("dicom",) if HAS_DICOM else ()))
HOSTILE = ("fifo", "unreadable", "blank", "truncated", "png16-sbit", "png16")

Decision = tuple[Any, ...]


def _png_with_sbit(image: Image.Image, bits: int) -> bytes:
    """`image` as a PNG with an sBIT chunk saying `bits` significant bits (Pillow writes none)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    end_of_ihdr = 8 + 8 + 13 + 4
    body = b"sBIT" + bytes([bits])
    chunk = len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return data[:end_of_ihdr] + chunk + data[end_of_ihdr:]


def _twelve_bit(source: Path) -> Image.Image:
    """The sample radiograph as 12-bit data in a 16-bit greyscale image (0..4095)."""
    pixels = np.asarray(Image.open(source).convert("L"), dtype=np.uint16) * 16
    return Image.fromarray(pixels)


def build_inputs(folder: Path, popen: dict[str, Any]) -> dict[str, Path]:
    """The matrix's folder: key -> file. `unreadable` is left out where a child started with
    `popen` can still read a chmod 000 file."""
    folder.mkdir()
    normal = SAMPLES / "binary" / "NORMAL"
    pneumonia = SAMPLES / "binary" / "PNEUMONIA"
    files: dict[str, Path] = {
        "png": folder / "png.png",
        "jpeg": folder / "jpeg.jpg",
        "non-utf8": Path(os.fsdecode(bytes(folder) + b"/non-utf8-caf\xe9.png")),
        "blank": folder / "blank.png",
        "truncated": folder / "truncated.png",
        "png16-sbit": folder / "png16-sbit.png",
        "png16": folder / "png16.png",
    }
    shutil.copy(normal / "NORMAL_01.png", files["png"])
    shutil.copy(pneumonia / "PNEUMONIA_00.jpg", files["jpeg"])
    shutil.copy(pneumonia / "PNEUMONIA_01.png", files["non-utf8"])
    if HAS_DICOM:
        files["dicom"] = folder / "dicom.dcm"
        shutil.copy(SAMPLES / "dicom" / "PNEUMONIA" / "PNEUMONIA_00000.dcm", files["dicom"])
    Image.new("L", (512, 512), 128).save(files["blank"])
    whole = (normal / "NORMAL_02.png").read_bytes()
    files["truncated"].write_bytes(whole[: len(whole) // 2])
    files["png16-sbit"].write_bytes(_png_with_sbit(_twelve_bit(normal / "NORMAL_03.png"), 12))
    _twelve_bit(pneumonia / "PNEUMONIA_02.png").save(files["png16"])
    if hasattr(os, "mkfifo"):
        files["fifo"] = folder / "fifo.png"
        os.mkfifo(files["fifo"])  # no writer, ever: a blocking open() would wait for ever
    locked = folder / "unreadable.png"
    shutil.copy(normal / "NORMAL_01.png", locked)
    if unreadable_for(locked, popen):
        files["unreadable"] = locked
    else:
        locked.unlink()
    return files


def key_of(name: str) -> str:
    """The input a record names (by the key its file name starts with)."""
    base = name.rsplit("/", 1)[-1]
    return next(
        k for k in sorted((*ORDINARY, *HOSTILE), key=len, reverse=True) if base.startswith(k)
    )


def reason(text: str) -> str:
    """An error without the file name it starts with (each mode names the file its own way)."""
    return re.sub(r"^.*?\.(png|jpg|dcm): ", "", text)


def decision(record: dict[str, Any]) -> Decision:
    """What a record decided: ("decided", label, probabilities), ("rejected", reason) or
    ("failed", reason)."""
    if record.get("label") is not None:
        return ("decided", record["label"], record["probabilities"])
    if record.get("rejected"):
        return ("rejected", record["rejected"])
    assert record.get("error"), record
    return ("failed", reason(record["error"]))


def by_input(records: list[dict[str, Any]]) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    for record in records:
        key = key_of(record["path"])
        assert key not in decisions, f"two records for {key}: {records}"
        decisions[key] = decision(record)
    return decisions


def assert_same(reference: dict[str, Decision], found: dict[str, Decision], mode: str) -> None:
    assert set(found) == set(reference), (mode, sorted(found), sorted(reference))
    for key, expected in reference.items():
        got = found[key]
        assert got[:2] == expected[:2], (mode, key, got, expected)
        if expected[0] == "decided":
            for label, p in expected[2].items():
                assert abs(got[2][label] - p) <= TOLERANCE, (mode, key, got[2], expected[2])


def edgexray(*args: str, **popen: Any) -> subprocess.CompletedProcess[str]:
    """`edgexray ARGS` as a child process of this interpreter, bounded by TIMEOUT_S."""
    return subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        **popen,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


STRICT = ("-m", str(MODEL), "--input-check", "strict")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    skip_unless_an_engine_reads(MODEL)
    folder = tmp_path_factory.mktemp("matrix") / "inbox"
    return build_inputs(folder, service_user()), folder


@pytest.fixture(scope="module")
def reference(matrix: tuple[dict[str, Path], Path]) -> dict[str, Decision]:
    """`classify --format jsonl` on the folder: the decisions every other mode must repeat."""
    _, folder = matrix
    done = edgexray("classify", *STRICT, "--format", "jsonl", str(folder), **service_user())
    assert done.returncode == exit_codes.PARTIAL, done.stderr
    return by_input(json_lines(done.stdout))


def test_classify_decides_the_ordinary_inputs_and_refuses_each_hostile_one_for_its_reason(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision]
) -> None:
    files, _ = matrix
    assert set(reference) == set(files)
    for key in ORDINARY:
        assert reference[key][0] == "decided", (key, reference[key])
    assert reference["blank"][0] == "rejected"
    assert reference["truncated"][0] == "failed"
    if "fifo" in files:
        assert reference["fifo"] == ("failed", "not a regular file (a pipe, socket or device)")
    if "unreadable" in files:
        assert reference["unreadable"] == ("failed", "permission denied")
    for key in ("png16-sbit", "png16"):  # decided or refused: the other modes must agree
        assert reference[key][0] in ("decided", "rejected"), reference[key]


def test_watch_decides_as_classify(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision], tmp_path: Path
) -> None:
    _, folder = matrix
    results = tmp_path / "results.jsonl"
    args = ("--results", str(results), "--settle", "0", "--once")
    done = edgexray("watch", str(folder), *STRICT, *args, **service_user())
    assert done.returncode == exit_codes.PARTIAL, done.stderr
    assert_same(reference, by_input(json_lines(results.read_text())), "watch")


def test_the_python_api_decides_as_classify(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision]
) -> None:
    """Classifier.iter_predictions over the folder's files, in a child process that runs as the
    service user (this process may be root, which reads the chmod 000 file)."""
    _, folder = matrix
    script = (
        "import json, os, sys\n"
        "from edgexray import Classifier, ClassifierOptions\n"
        "folder = sys.argv[2]\n"
        "paths = [os.path.join(folder, n) for n in sorted(os.listdir(folder))]\n"
        "with Classifier(sys.argv[1], ClassifierOptions(input_check='strict')) as clf:\n"
        "    for prediction in clf.iter_predictions(paths):\n"
        "        print(json.dumps(prediction.to_record()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(MODEL), str(folder)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        **service_user(),
    )
    assert done.returncode == 0, done.stderr
    assert_same(reference, by_input(json_lines(done.stdout)), "python api")


def test_explain_decides_as_classify(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision], tmp_path: Path
) -> None:
    _, folder = matrix
    out = tmp_path / "explained"
    done = edgexray(
        "explain", *STRICT, "--steps", "2", str(folder), "-o", str(out), **service_user()
    )
    assert done.returncode == exit_codes.PARTIAL, done.stderr
    assert_same(reference, by_input(json_lines(done.stdout)), "explain")


def test_serve_decides_each_upload_as_classify(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision], tmp_path: Path
) -> None:
    for module in ("fastapi", "uvicorn", "httpx", "multipart"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"serve needs the [serve] extra ({module} is missing)")
    from serve.serve_process import running_server

    files, _ = matrix
    # By design serve receives bytes: a FIFO or a file the client cannot read never reaches it.
    sent = {k: p for k, p in files.items() if k not in ("fifo", "unreadable")}
    records = []
    with running_server(tmp_path, "--input-check", "strict", model=MODEL) as server:
        client = server.client()
        for key, path in sent.items():
            upload_name = key + path.suffix  # an HTTP client names the upload in text
            response = client.post("/v1/classify", files={"file": (upload_name, path.read_bytes())})
            assert response.status_code in (200, 422), (key, response.text)
            records.append(response.json())
        assert server.stop() == 0, server.output()
    assert_same({k: reference[k] for k in sent}, by_input(records), "serve")


def test_bench_parity_pass_computes_classify_s_probabilities(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision]
) -> None:
    """Bench's measuring child (a real process) on the inputs every mode decides: its parity
    probabilities are classify's (bench runs the checks in `warn`: they never change a label)."""
    from edgexray.bench.measure import TimingPlan
    from edgexray.bench.runner import SubjectSpec, run_isolated

    files, _ = matrix
    decided = [k for k in sorted(files) if reference[k][0] == "decided"]
    spec = SubjectSpec("int8", "edgexray", MODEL, "tflite")
    plan = TimingPlan(runs=1, warmup=0, batch_sizes=(1,))
    outcome = run_isolated(spec, [files[k] for k in decided], plan, 1, timeout_s=TIMEOUT_S)
    assert outcome.measurement is not None, outcome.error
    labels = outcome.measurement.card.labels
    for key, row in zip(decided, outcome.measurement.probabilities, strict=True):
        expected = reference[key][2]
        assert np.allclose(row, [expected[label] for label in labels], atol=TOLERANCE, rtol=0), (
            key,
            row,
            expected,
        )


@pytest.mark.slow
def test_classify_on_a_local_ray_decides_as_classify(
    matrix: tuple[dict[str, Path], Path], reference: dict[str, Decision], tmp_path: Path
) -> None:
    for module in ("ray", "pyarrow"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"--ray needs the [ray] extra ({module} is missing)")
    _, folder = matrix
    out = tmp_path / "ray.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = edgexray(
        "classify", *STRICT, "--ray", "local", "--actors", "1", str(folder), "-o", str(out),
        env=env, **service_user(),
    )  # fmt: skip
    assert done.returncode == exit_codes.PARTIAL, done.stderr
    assert_same(reference, by_input(json_lines(out.read_text())), "classify --ray")


def test_the_dicom_options_reach_every_command_that_reads_a_folder(tmp_path: Path) -> None:
    """One declaration of --dicom-* (edgexray.cli.options.dicom_options), honoured by each
    command: a gate that lets only MR through refuses the CR sample everywhere, for one reason."""
    skip_unless_an_engine_reads(MODEL)
    if not HAS_DICOM:
        pytest.skip("DICOM files need the [dicom] extra (pydicom)")
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(SAMPLES / "dicom" / "NORMAL" / "NORMAL_00000.dcm", folder / "dicom.dcm")
    gate = ("--dicom-modalities", "MR")
    results = tmp_path / "results.jsonl"
    runs = {
        "classify": ("classify", *STRICT, *gate, "--format", "jsonl", str(folder)),
        "watch": ("watch", str(folder), *STRICT, *gate, "--results", str(results), "--once"),
        "explain": ("explain", *STRICT, *gate, str(folder), "-o", str(tmp_path / "explained")),
    }
    reasons = {}
    for mode, args in runs.items():
        done = edgexray(*args, "--settle", "0") if mode == "watch" else edgexray(*args)
        assert done.returncode == exit_codes.PARTIAL, (mode, done.stderr)
        text = results.read_text() if mode == "watch" else done.stdout
        (record,) = json_lines(text)
        reasons[mode] = decision(record)
    assert reasons["classify"][0] == "failed" and "MR" in reasons["classify"][1], reasons
    assert reasons["watch"] == reasons["explain"] == reasons["classify"], reasons
