"""The audit log: one complete JSON line per decision, from classify (real processes), whatever
runs concurrently with it, and after a kill -9."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import runnable
from PIL import Image

from edgexray.audit import AuditLog
from edgexray.classifier import Classifier
from edgexray.cli.writers import JSONLWriter
from edgexray.modelfile import read_card
from edgexray.prediction import Prediction


def _images(folder: Path, count: int) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(count):
        Image.new("L", (24, 24), (i * 37) % 256).save(folder / f"{i:04d}.png")
    return folder


def _classify(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgexray.cli.main", "classify", "--format", "csv", *args]


def _lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_classify_writes_one_line_per_decision_with_the_facts(carded, tmp_path: Path) -> None:
    model = carded("binary_gray.tflite", threshold=0.3)
    folder = _images(tmp_path / "in", 3)
    (folder / "broken.png").write_bytes(b"not an image")
    audit = tmp_path / "audit.jsonl"
    done = subprocess.run(
        _classify("-m", str(model), "--audit", str(audit), str(folder)), capture_output=True
    )
    assert done.returncode == 3  # the broken file
    lines = _lines(audit)
    assert len(lines) == 4
    assert len({line["request_id"] for line in lines}) == 1
    good = next(line for line in lines if str(line["input"]["name"]).endswith("0000.png"))  # type: ignore[index]
    assert good["mode"] == "classify"
    assert str(good["time"]).endswith("Z")
    expected_input = hashlib.sha256((folder / "0000.png").read_bytes()).hexdigest()
    assert good["input"] == {"name": str(folder / "0000.png"), "sha256": expected_input}
    facts = good["model"]
    assert facts["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()  # type: ignore[index]
    assert facts["variant"] == "binary_gray.tflite"  # type: ignore[index]
    assert facts["engine"] == "litert"  # type: ignore[index]
    assert facts["threshold"] == 0.3  # type: ignore[index]
    # The card's own digest and state: this run's card is sealed, nothing overridden.
    assert facts["card"] == "sealed" and "overrides" not in facts  # type: ignore[operator,index]
    assert facts["card_sha256"] == read_card(model).card_sha256  # type: ignore[index, union-attr]
    assert "input_check" in good
    assert good["label"] in ("NORMAL", "PNEUMONIA")
    assert set(good["probabilities"]) == {"NORMAL", "PNEUMONIA"}  # type: ignore[arg-type]
    assert good["error"] is None
    assert float(good["latency_ms"]) >= 0  # type: ignore[arg-type]
    broken = next(line for line in lines if str(line["input"]["name"]).endswith("broken.png"))  # type: ignore[index]
    assert broken["label"] is None and "broken.png" in str(broken["error"])
    assert broken["model"] == good["model"]  # an error is a decision of the same model


def test_concurrent_processes_never_interleave_lines(carded, tmp_path: Path) -> None:
    model = carded("binary_gray.tflite")
    folder = _images(tmp_path / "in", 40)
    audit = tmp_path / "audit.jsonl"
    runs = [
        subprocess.Popen(
            _classify("-m", str(model), "--audit", str(audit), "--batch-size", "1", str(folder)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(4)
    ]
    assert [run.wait(120) for run in runs] == [0, 0, 0, 0]
    lines = _lines(audit)
    assert len(lines) == 160
    per_run: dict[object, int] = {}
    for line in lines:
        per_run[line["request_id"]] = per_run.get(line["request_id"], 0) + 1
    assert sorted(per_run.values()) == [40, 40, 40, 40]


def test_threads_sharing_one_log_never_interleave_lines(carded, tmp_path: Path) -> None:
    classifier = Classifier(carded("binary_gray.tflite"))
    audit = AuditLog(tmp_path / "audit.jsonl")
    prediction = Prediction(
        model=classifier.identity,
        path="x" * 5000,
        label="NORMAL",
        confidence=0.9,
        probabilities={"NORMAL": 0.9, "PNEUMONIA": 0.1},
    )

    def write(thread: int) -> None:
        for _ in range(50):
            audit.record(
                prediction, request_id=str(thread), input_sha256=None, latency_s=0.0, mode="test"
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    audit.close()
    assert len(_lines(tmp_path / "audit.jsonl")) == 400


def test_every_line_is_complete_after_a_kill_9(carded, tmp_path: Path) -> None:
    model = carded("binary_gray.tflite")
    folder = _images(tmp_path / "in", 2000)
    audit = tmp_path / "audit.jsonl"
    run = subprocess.Popen(
        _classify("-m", str(model), "--audit", str(audit), "--batch-size", "1", str(folder)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (not audit.exists() or audit.read_bytes().count(b"\n") < 20) and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    assert run.wait(30) == -signal.SIGKILL
    lines = _lines(audit)
    assert 20 <= len(lines) < 2000
    assert all(line["label"] in ("NORMAL", "PNEUMONIA") for line in lines)


def test_an_unwritable_audit_log_is_one_line_and_exit_1(carded, tmp_path: Path) -> None:
    model = carded("binary_gray.tflite")
    done = subprocess.run(
        _classify(
            "-m",
            str(model),
            "--audit",
            str(tmp_path / "no" / "audit.jsonl"),
            str(_images(tmp_path / "in", 1)),
        ),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "edgexray: error: cannot open the audit log" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_log_renamed_by_logrotate_is_reopened_and_no_line_is_lost(carded, tmp_path: Path) -> None:
    """logrotate's default (rename, then `create`): the lines before the rename stay in the rotated
    file, every line after it goes to the new file at the path; none is lost or split."""
    classifier = Classifier(carded("binary_gray.tflite"))
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    prediction = Prediction(model=classifier.identity, path="a.png", label="NORMAL")

    def write(count: int) -> None:
        for _ in range(count):
            audit.record(prediction, request_id="r", latency_s=0.0, mode="test")

    write(3)
    path.rename(tmp_path / "audit.jsonl.1")
    path.touch()  # logrotate's `create`
    write(2)
    (tmp_path / "audit.jsonl.2").unlink(missing_ok=True)
    path.rename(tmp_path / "audit.jsonl.2")  # and once more, with no file created after it
    write(1)
    audit.close()
    assert len(_lines(tmp_path / "audit.jsonl.1")) == 3
    assert len(_lines(tmp_path / "audit.jsonl.2")) == 2
    assert len(_lines(path)) == 1


def test_the_audit_line_takes_the_decision_from_the_one_record(tmp_path: Path, monkeypatch) -> None:
    decided = Prediction(path="a.png", label="A", confidence=0.75, probabilities={"A": 0.75})
    record = {**decided.to_record(), "label": "B", "probabilities": {"B": 0.5}}
    monkeypatch.setattr(Prediction, "to_record", lambda self: record)
    with AuditLog(tmp_path / "audit.jsonl") as log:
        entry = log.entry(decided, request_id="r", latency_s=0.0, mode="classify")
    assert (entry["label"], entry["probabilities"]) == ("B", {"B": 0.5})


def test_classify_audits_a_batch_with_one_fsync_before_its_records(
    carded, tmp_path: Path, monkeypatch
) -> None:
    from click.testing import CliRunner
    from conftest import counted

    from edgexray.cli.main import cli

    model = carded(runnable("binary_gray.tflite"))
    folder = _images(tmp_path / "in", 8)
    audit = tmp_path / "audit.jsonl"
    out = tmp_path / "out.jsonl"
    synced = counted(monkeypatch, os, "fsync")
    lines_at_write: list[int] = []
    write = JSONLWriter.write

    def write_and_look(self: JSONLWriter, prediction: Prediction) -> None:
        lines_at_write.append(len(audit.read_text().splitlines()))
        write(self, prediction)

    monkeypatch.setattr(JSONLWriter, "write", write_and_look)
    args = ["classify", "-m", str(model), "--input-check", "off", "--batch-size", "4"]
    done = CliRunner().invoke(
        cli, [*args, "--format", "jsonl", "-o", str(out), "--audit", str(audit), str(folder)]
    )
    assert done.exit_code == 0, done.output
    assert len(_lines(audit)) == 8
    assert len(synced) <= 2  # one per batch of 4 (was one per image)
    assert lines_at_write == [4, 4, 4, 4, 8, 8, 8, 8]  # each batch's lines before its records
