"""An input is read once (edgexray.preprocessing.input_file): a FIFO is refused without blocking, an
oversized file unread; the decision, its record and its audit line take the name and SHA-256 from
that one read, so a name that is not UTF-8 reaches every output escaped, and nothing re-reads the file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import opens_of, runnable
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.audit import AuditLog, RunAudit
from edgexray.errors import ImageError
from edgexray.preprocessing.input_file import read_input


def gray_png(path: Path, value: int = 90) -> Path:
    Image.fromarray(np.full((20, 20), value, np.uint8)).save(path)
    return path


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "b.png"
    os.mkfifo(fifo)  # nobody will ever write: a blocking open() would hang for ever
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_input(fifo, 1 << 20)
        except ImageError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "read_input blocked on a FIFO"
    assert "not a regular file" in str(outcome[0])


def test_an_oversized_file_is_refused_unread_and_the_rest_read_once(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with open(big, "wb") as handle:
        handle.truncate(2 << 20)
    with pytest.raises(ImageError, match="exceeds the limit of 1048576"):
        read_input(big, 1 << 20)
    good = gray_png(tmp_path / "good.png")
    read = read_input(good, 1 << 20)
    assert read.data == good.read_bytes()
    assert read.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()


def test_a_decision_and_its_audit_line_open_the_input_once(
    carded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = gray_png(tmp_path / "scan.png")
    with Classifier(carded(runnable("binary_gray.tflite"))) as clf:
        opened = opens_of(monkeypatch, image)
        prediction = clf.predict(image)
        with RunAudit(AuditLog(tmp_path / "audit.jsonl"), "classify") as audit:
            audit.record(prediction)
    monkeypatch.undo()
    assert len(opened) == 1
    line = json.loads((tmp_path / "audit.jsonl").read_text())
    assert line["input"]["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert prediction.to_record()["sha256"] == line["input"]["sha256"]


def test_classify_audit_with_a_name_that_is_not_utf8(carded, tmp_path: Path) -> None:
    """A Windows share's `caf\\xe9.png`: every record and audit line is written, escaped the same
    way, and the run exits 0 (it aborted with exit 1 after writing the record, without the line)."""
    folder = tmp_path / "in"
    folder.mkdir()
    gray_png(folder / "a.png")
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.png")
    with open(latin1, "wb") as handle:
        handle.write((folder / "a.png").read_bytes())
    model = carded(runnable("binary_gray.tflite"))
    audit = tmp_path / "audit.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", "classify", "-m", str(model),
         "--input-check", "off", "--format", "jsonl", "--audit", str(audit), str(folder)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    lines = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(lines) == 2
    escaped = f"{folder}/caf\\xe9.png"
    assert escaped in {r["path"] for r in records}
    assert escaped in {line["input"]["name"] for line in lines}
    by_name = {line["input"]["name"]: line for line in lines}
    with open(latin1, "rb") as handle:
        expected = hashlib.sha256(handle.read()).hexdigest()
    assert by_name[escaped]["input"]["sha256"] == expected
    assert by_name[escaped]["probabilities"] == next(
        r["probabilities"] for r in records if r["path"] == escaped
    )


def test_api_options_validate_the_byte_limit() -> None:
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        ClassifierOptions(max_bytes=0)


def test_a_file_that_fails_to_decode_keeps_its_sha256_and_the_model_identity(
    carded, tmp_path: Path
) -> None:
    noise = np.random.default_rng(3).integers(0, 255, (64, 64), dtype=np.uint8)
    encoded = tmp_path / "good.png"
    Image.fromarray(noise).save(encoded)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(encoded.read_bytes()[:1000])
    missing = tmp_path / "missing.png"
    with Classifier(carded(runnable("binary_gray.tflite"))) as clf:
        records = [p.to_record() for p in clf.predict_batch([truncated, missing])]
        identity = clf.identity.to_record()
    cut, absent = records
    assert "corrupt or truncated" in cut["error"]
    assert cut["sha256"] == hashlib.sha256(truncated.read_bytes()).hexdigest()
    assert cut["model"] == identity
    assert "sha256" not in absent  # nothing was read
    assert absent["model"] == identity


def test_classify_dash_records_the_sha256_and_model_of_bytes_it_cannot_decode(carded) -> None:
    model = str(carded(runnable("binary_gray.tflite")))
    done = subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", "classify", "-m", model, "--format", "jsonl",
         "-"],
        input=b"text", capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    record = json.loads(done.stdout)
    assert record["path"] == "-" and record["error"].startswith("-: ")
    assert record["sha256"] == hashlib.sha256(b"text").hexdigest()
    assert record["model"]["file"] == Path(model).name
