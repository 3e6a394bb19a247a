"""`edgexray watch` as a real process: every file once, complete files only, moves, a kill -9 in
the middle of a run (one result and one audit line per decision, whatever it interrupted), and a
clean SIGTERM."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from watch_support import folders, png, read_results, running, started, wait_for, watch_args

# watch follows inotify through watchdog (the [serve] extra); a device install without it only
# scans, which these tests' rules (close events, no scan for an hour) do not describe.
needs_inotify = pytest.mark.skipif(
    importlib.util.find_spec("watchdog") is None or not sys.platform.startswith("linux"),
    reason="needs watchdog's inotify observer (pip install the [serve] extra)",
)


def test_a_kill_9_mid_batch_neither_repeats_nor_skips_a_file(carded, tmp_path: Path) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    (inbox / "a").mkdir(parents=True)
    out.mkdir()
    names = [f"a/{i:04d}.png" if i % 2 else f"{i:04d}.png" for i in range(1200)]
    for i, name in enumerate(names):
        (inbox / name).write_bytes(png(i))
    (inbox / "broken.png").write_bytes(b"not an image")
    moves = ["--done", str(tmp_path / "done"), "--failed", str(tmp_path / "failed")]
    audit = out / "audit.jsonl"
    args = watch_args(inbox, out, "-m", model, "--settle", "0", "--once", *moves)
    args += ["--audit", str(audit)]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "results.jsonl.journal"
    wait_for(lambda: journal.exists() and journal.read_bytes().count(b"\n") >= 30)
    first.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL
    finished_before = journal.read_bytes().count(b"\n")
    assert finished_before < len(names), "the run ended before the kill"

    second = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert second.returncode == 3, second.stderr  # the broken file
    results = read_results(out)
    paths = [r["path"] for r in results]
    assert sorted(paths) == sorted([*names, "broken.png"])  # every file, each once
    entries = [json.loads(x) for x in journal.read_text().splitlines()]
    journal_keys = [entry["key"] for entry in entries]
    assert len(journal_keys) == len(set(journal_keys)) == len(names) + 1
    # One audit line per decision: none lost, none twice, wherever the kill came.
    decisions = sorted(entry["record"]["decision_id"] for entry in entries)
    audit_lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert sorted(line["decision_id"] for line in audit_lines) == decisions
    assert sorted(r["decision_id"] for r in results) == decisions
    # The second run classified only what the first had not finished.
    counts = re.search(r"(\d+) classified, (\d+) failed", second.stderr)
    assert counts is not None
    assert int(counts[1]) + int(counts[2]) == len(names) + 1 - finished_before
    assert sorted(
        str(p.relative_to(tmp_path / "done")) for p in (tmp_path / "done").rglob("*.png")
    ) == sorted(names)
    assert [p.name for p in (tmp_path / "failed").iterdir()] == ["broken.png"]
    assert not list(inbox.rglob("*.png"))


def test_a_result_committed_but_not_published_is_published_not_reclassified(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    for i in range(3):
        (inbox / f"{i}.png").write_bytes(png(i * 90))
    audit = tmp_path / "audit.jsonl"
    args = watch_args(inbox, out, "-m", model, "--settle", "0", "--once", "--audit", str(audit))
    subprocess.run(args, check=True, capture_output=True)
    # As if killed between the journal commit and the results append of the last file:
    results = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(results[:-1]))
    again = subprocess.run(args, check=True, capture_output=True, text=True)
    assert "published 1 result(s) finished before a restart" in again.stderr
    assert "0 classified" in again.stderr
    assert sorted(r["path"] for r in read_results(out)) == ["0.png", "1.png", "2.png"]
    assert len(audit.read_text().splitlines()) == 3  # three decisions, not four


def test_a_file_being_written_is_taken_only_when_complete_and_sigterm_ends_cleanly(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    # Without watchdog (the device install) only the settle time tells a file is complete: it is
    # far longer than the pause below, so a slow moment of this test (a loaded CI machine) cannot
    # make the half-written file look settled.
    args = watch_args(inbox, out, "-m", model, "--settle", "5", "--json-dir", str(out / "json"))
    watcher = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        started(watcher)
        data = png(7, side=400)
        with (inbox / "scan.png").open("wb") as stream:
            stream.write(data[: len(data) // 2])
            stream.flush()
            time.sleep(1.0)  # half-copied, still open: not taken
            assert read_results(out) == []
            stream.write(data[len(data) // 2 :])
        wait_for(lambda: len(read_results(out)) == 1)
        record = read_results(out)[0]
        assert record["path"] == "scan.png" and "error" not in record
        assert json.loads((out / "json" / "scan.png.json").read_text())["label"] == record["label"]
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, stderr
    assert "1 classified, 0 failed (stopped)" in stderr
    assert "Traceback" not in stderr


def test_polling_takes_a_file_once_its_size_is_stable(carded, tmp_path: Path) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    args = watch_args(
        inbox, out, "-m", model, "--poll", "--settle", "0.3", "--scan-interval", "0.2"
    )
    watcher = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        started(watcher)
        (inbox / "dropped.png").write_bytes(png(200))
        wait_for(lambda: len(read_results(out)) == 1)
        time.sleep(0.5)  # and never a second time, though it stays in the inbox
        assert [r["path"] for r in read_results(out)] == ["dropped.png"]
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.communicate(timeout=30)
    assert watcher.returncode == 0


@needs_inotify
def test_with_inotify_an_open_file_waits_for_its_close_however_long_the_writer_pauses(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    (inbox, out), done = folders(tmp_path), tmp_path / "done"
    args = watch_args(inbox, out, "-m", model, "--settle", "0.3", "--done", str(done))
    watcher = running([*args, "--failed", str(tmp_path / "failed")])
    try:
        data = png(7, side=400)
        with (inbox / "scan.png").open("wb") as stream:
            time.sleep(2.0)  # created, still empty: a pause many times --settle
            assert read_results(out) == []
            stream.write(data[: len(data) // 2])
            stream.flush()
            time.sleep(2.0)  # half written, still open
            assert read_results(out) == []
            stream.write(data[len(data) // 2 :])
        wait_for(lambda: len(read_results(out)) == 1)
        (record,) = read_results(out)
        assert record["path"] == "scan.png" and "error" not in record
        assert record["label"] in ("NORMAL", "PNEUMONIA")
        wait_for(lambda: (done / "scan.png").exists())
        assert (done / "scan.png").read_bytes() == data
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, stderr
    assert "1 classified, 0 failed (stopped)" in stderr


def test_a_truncated_file_completed_after_it_failed_is_classified(carded, tmp_path: Path) -> None:
    # Polling (a network share: no close events): only the settle time tells a file is complete,
    # so a writer that pauses longer has its file taken half-written, and it fails. The writer
    # still holds the file, now in --failed, and finishes it there: it is tried again.
    model = str(carded("binary_gray.tflite"))
    (inbox, out), done, failed = folders(tmp_path), tmp_path / "done", tmp_path / "failed"
    args = watch_args(
        inbox, out, "-m", model, "--poll", "--settle", "0.3", "--scan-interval", "0.2"
    )
    watcher = running([*args, "--done", str(done), "--failed", str(failed)])
    try:
        data = png(7, side=400)
        with (inbox / "scan.png").open("wb") as stream:
            stream.write(data[: len(data) // 2])
            stream.flush()
            wait_for(lambda: len(read_results(out)) == 1 and (failed / "scan.png").exists())
            assert "error" in read_results(out)[0]
            stream.write(data[len(data) // 2 :])
        wait_for(lambda: len(read_results(out)) == 2)
        first, second = read_results(out)
        assert first["path"] == second["path"] == "scan.png"
        assert "error" not in second and second["label"] in ("NORMAL", "PNEUMONIA")
        wait_for(lambda: (done / "scan.png").exists())
        assert (done / "scan.png").read_bytes() == data and not (failed / "scan.png").exists()
        time.sleep(1.0)  # and it is not taken a third time
        assert len(read_results(out)) == 2
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, stderr
    assert "1 classified, 1 failed (stopped)" in stderr


@needs_inotify
def test_with_inotify_a_file_moved_or_linked_in_is_taken_without_a_close(
    carded, tmp_path: Path
) -> None:
    # Renamed in from a folder outside the watch, or hard-linked: inotify reports a creation and
    # no writer ever closes the file; it goes by the settle time.
    model = str(carded("binary_gray.tflite"))
    (inbox, out), staging = folders(tmp_path), tmp_path / "staging"
    staging.mkdir()
    (staging / "moved.png").write_bytes(png(40))
    (staging / "linked.png").write_bytes(png(80))
    watcher = running(
        watch_args(inbox, out, "-m", model, "--settle", "0.3", "--scan-interval", "3600")
    )
    try:
        (staging / "moved.png").rename(inbox / "moved.png")
        (inbox / "linked.png").hardlink_to(staging / "linked.png")
        wait_for(lambda: len(read_results(out)) == 2, timeout=30)
        assert sorted(r["path"] for r in read_results(out)) == ["linked.png", "moved.png"]
        assert all("error" not in r for r in read_results(out))
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.communicate(timeout=30)
    assert watcher.returncode == 0
