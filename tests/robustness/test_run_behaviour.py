"""A whole classify run with faults: one record per failure, documented exit codes, streamed output
that survives SIGTERM and Ctrl-C, and memory that does not grow with the number of images."""

from __future__ import annotations

import csv
import io
import json
import re
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image
from robustness_support import (
    carded_copy,
    edgexray_command,
    jsonl_records,
    linked_images,
    peak_rss_kib,
    run_edgexray,
)

from edgexray import exit_codes
from edgexray.cli.writers import WRITERS
from edgexray.prediction import Prediction

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return carded_copy(tmp_path_factory, "binary_gray.onnx")


def test_every_failed_input_is_one_record_naming_the_file_and_the_rest_completes(model, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(4):
        Image.new("L", (30, 30), 40 * i).save(folder / f"good{i}.png")
    good_jpeg = folder / "good.jpg"
    Image.new("L", (30, 30), 99).save(good_jpeg)
    broken = {
        "empty.png": b"",
        "text.jpg": b"patient notes, not an image",
        "cut.png": (folder / "good1.png").read_bytes()[:60],
        "cut.jpg": good_jpeg.read_bytes()[:150],
        "folder-lookalike.tif": b"II*\x00" + b"\xff" * 20,
    }
    for name, data in broken.items():
        (folder / name).write_bytes(data)
    (tmp_path / "nothing-here").mkdir()
    missing = tmp_path / "missing.png"
    run = run_edgexray(
        "classify", "-m", model, "--format", "jsonl", folder, tmp_path / "nothing-here", missing
    )
    assert run.returncode == exit_codes.PARTIAL
    records = jsonl_records(run.stdout)
    assert len(records) == 5 + len(broken) + 2  # one record per input, good or bad
    failed = [r for r in records if "error" in r]
    assert {Path(r["path"]).name for r in failed} == {*broken, "nothing-here", "missing.png"}
    for record in failed:
        assert record["error"].startswith(record["path"] + ": ")  # names the file...
        assert len(record["error"]) > len(record["path"]) + 10  # ...and says why
        assert "\n" not in record["error"] and set(record) - {"sha256"} == {
            "path",
            "error",
            "model",
        }
    # The bytes that were read and failed to decode are named by their SHA-256 (issue 23).
    read = {name for name, data in broken.items() if data}
    assert {Path(r["path"]).name for r in failed if "sha256" in r} == read
    assert all(r["label"] in ("NORMAL", "PNEUMONIA") for r in records if "error" not in r)
    stderr = run.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("edgexray: 5 classified, 7 failed in ")


def test_exit_codes_are_distinct_and_documented():
    codes = {
        name: value
        for name, value in vars(exit_codes).items()
        if name.isupper() and not name.startswith("_")
    }
    assert {"OK", "FATAL", "USAGE", "PARTIAL", "INTERRUPTED"} <= set(codes)
    assert len(set(codes.values())) == len(codes)
    table = (ROOT / "docs" / "exit-codes.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert documented == set(codes.values())


def test_each_exit_code_happens_when_documented(model, tmp_path):
    good = tmp_path / "good.png"
    Image.new("L", (20, 20), 90).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    cases = {
        exit_codes.OK: ("classify", "-m", model, good),
        exit_codes.PARTIAL: ("classify", "-m", model, good, bad),
        exit_codes.FATAL: ("classify", "-m", tmp_path / "missing.onnx", good),
        exit_codes.USAGE: ("classify", "-m", model, "--batch-size", "0", good),
    }
    for code, args in cases.items():
        run = run_edgexray(*args)
        assert run.returncode == code, (args, run.stderr)
        assert b"Traceback" not in run.stderr


def test_an_output_file_that_cannot_be_created_is_a_usage_error(model, tmp_path):
    good = tmp_path / "good.png"
    Image.new("L", (20, 20), 90).save(good)
    for output_format in ("jsonl", "json"):
        out = tmp_path / "no-such-folder" / f"results.{output_format}"
        run = run_edgexray("classify", "-m", model, "--format", output_format, "-o", out, good)
        assert run.returncode == exit_codes.USAGE
        assert f"cannot write {out}: No such file or directory" in run.stderr.decode()
        assert b"Traceback" not in run.stderr


@pytest.mark.parametrize("output_format", sorted(WRITERS))
def test_writers_keep_output_valid_utf8_for_any_error_text(output_format):
    # A caller of the API may build records from errors that quote raw (non-UTF-8) file names.
    stream = io.StringIO()
    writer = WRITERS[output_format](stream, ("A", "B"))
    writer.write(Prediction(path="/x/\udcff.png", error="/x/\udcff.png: lost"))
    writer.close()
    text = stream.getvalue()
    text.encode("utf-8")  # strict: would fail on a lone surrogate
    assert text.count("xff.png") == 2 and "xff.png: lost" in text  # path and error, both shown


@pytest.mark.parametrize("output_format", sorted(WRITERS))
def test_every_writer_writes_the_one_record(output_format, monkeypatch):
    # The record is made in one place (Prediction.to_record); a writer that reads the prediction's
    # fields itself would not show what the record says.
    decided = Prediction(
        path="a.png", label="A", confidence=0.75, probabilities={"A": 0.75, "B": 0.25}
    )
    record = {**decided.to_record(), "path": "as-recorded.png", "label": "B", "confidence": 0.5}
    monkeypatch.setattr(Prediction, "to_record", lambda self: record)
    stream = io.StringIO()
    writer = WRITERS[output_format](stream, ("A", "B"))
    writer.write(decided)
    writer.close()
    text = stream.getvalue()
    assert "as-recorded.png" in text and "a.png" not in text.replace("as-recorded.png", "")
    assert re.search(r"\bB\b.{0,20}0\.5", text), text


# Interrupted runs --------------------------------------------------------------------------------

TOTAL = 400


@pytest.fixture(scope="module")
def slow_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 2000x2000 pixels each: several ms to decode and resize, so a run takes seconds at batch size 1.
    return linked_images(tmp_path_factory.mktemp("slow") / "images", TOTAL, 2000)


def _finished_records(path: Path, output_format: str) -> int:
    """Records already written to `path` (or, for JSON, to its temporary file beside it)."""
    if output_format == "json":
        partial = list(path.parent.glob(f".{path.name}.*.tmp"))
        return partial[0].read_text().count('"path"') if partial else 0
    if not path.exists():
        return 0
    lines = path.read_text().count("\n")
    return lines - 1 if output_format == "csv" else lines


def _restore_default_sigint() -> None:
    # A shell running tests in the background starts children with SIGINT ignored; Python then
    # installs no KeyboardInterrupt handler. Ctrl-C must reach the child as it would in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("output_format", ["jsonl", "csv", "json"])
def test_an_interrupted_run_leaves_well_formed_output(
    model, slow_images, tmp_path, output_format, signum
):
    out = tmp_path / f"results.{output_format}"
    if output_format == "json":
        out.write_text('["previous results"]\n')
    command = edgexray_command(
        "classify", "-m", model, "--batch-size", "1", "--format", output_format, "-o", out
    )
    process = subprocess.Popen(
        [*command, str(slow_images)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_restore_default_sigint,
    )
    try:
        deadline = time.monotonic() + 120  # a safety net against a hung test, not a measurement
        while _finished_records(out, output_format) < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no records were streamed to the output file"
            time.sleep(0.01)
        # Records reached the file while the run goes on: they are flushed as produced.
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_codes.INTERRUPTED, stderr
    assert b"Traceback" not in stderr and b"edgexray: interrupted" in stderr
    data = out.read_bytes()
    assert data.endswith(b"\n")  # ends on a complete record
    text = data.decode("utf-8")
    if output_format == "jsonl":
        records = [json.loads(line) for line in text.splitlines()]
    elif output_format == "csv":
        records = list(csv.DictReader(io.StringIO(text)))
        assert all(None not in row and None not in row.values() for row in records)
        assert all(0 <= float(row["confidence"]) <= 1 for row in records)
    else:
        records = json.loads(text)  # a complete document (the previous one if nothing was done)
        assert records != ["previous results"]
        assert not list(tmp_path.glob(".results.json.*"))  # no temporary file left behind
    assert 3 <= len(records) < TOTAL  # stopped midway...
    assert all(r["label"] in ("NORMAL", "PNEUMONIA") for r in records)  # ...on whole records
    summary = re.search(rb"edgexray: (\d+) classified, 0 failed", stderr)
    assert summary and int(summary.group(1)) == len(records)


# Memory ------------------------------------------------------------------------------------------


def test_peak_memory_does_not_grow_with_the_number_of_images(model, tmp_path):
    # Each image decodes to 1 MB: holding 400 of them would add ~400 MB to a ~100 MB process.
    few = linked_images(tmp_path / "few", 50, 1024)
    many = linked_images(tmp_path / "many", 400, 1024)
    peaks = {}
    for folder, count in ((few, 50), (many, 400)):
        out = tmp_path / f"{count}.jsonl"
        args = ("classify", "-m", model, "--format", "jsonl", "-o", out, folder)
        peaks[count], run = peak_rss_kib(tmp_path, *args)
        assert run.returncode == exit_codes.OK, run.stderr
        assert len(out.read_text().splitlines()) == count
    assert peaks[400] < 1.25 * peaks[50], peaks


def test_the_measured_peak_is_the_childs_own_not_its_parents(tmp_path):
    # The parent (this pytest) holds 256 MiB more than it did; the child must not read them.
    ballast = bytearray(256 * 2**20)
    ballast[:: resource.getpagesize()] = b"\x01" * len(ballast[:: resource.getpagesize()])
    peak, run = peak_rss_kib(tmp_path, "--version")
    assert run.returncode == exit_codes.OK, run.stderr
    assert peak < len(ballast) // 2 // 1024, peak
    del ballast
