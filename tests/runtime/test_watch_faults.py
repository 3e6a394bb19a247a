"""`edgexray watch` against what a kiosk's inbox holds and what a kill or a power cut leaves
(issue 23): one bad file never ends the loop, and no restart repeats or loses a decision.

The watcher runs as a real process. Where a test needs a file the service user cannot read and
the tests run as root (which reads a chmod 000 file), the watcher drops the capabilities that let
root ignore file permissions before it starts (see `service_user`): the kernel then refuses the
read exactly as it does for the unprivileged `edgexray` user of the systemd unit.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import make_unreadable, service_user
from watch_support import folders, png, read_results, running, stopped, wait_for, watch_args

from edgexray import exit_codes
from edgexray.audit import RunAudit
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.inbox.processor import InboxProcessor
from edgexray.inbox.settings import WatchSettings
from edgexray.inbox.watcher import InboxWatcher

LABELS = ("NORMAL", "PNEUMONIA")
MTIME_NS = 1_700_000_000_123_456_789


def run_once(
    inbox: Path, out: Path, model: str, *args: str, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """`edgexray watch --once --settle 0` (bounded: a watcher that hangs fails the test)."""
    return subprocess.run(
        watch_args(inbox, out, "-m", model, "--settle", "0", "--once", *args),
        capture_output=True,
        text=True,
        timeout=120,
        **popen,
    )


def by_path(out: Path) -> dict[object, dict[str, object]]:
    records = read_results(out)
    assert len(records) == len({r["path"] for r in records}), records
    return {r["path"]: r for r in records}


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file, each of which must be whole JSON."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def moves(tmp_path: Path) -> list[str]:
    return ["--done", str(tmp_path / "done"), "--failed", str(tmp_path / "failed")]


def inbox_holding(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    """The inbox, holding a different image under each of `names`, and the results folder."""
    inbox, out = folders(tmp_path)
    for i, name in enumerate(names):
        (inbox / name).write_bytes(png(30 + 60 * i))
    return inbox, out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_fifo_named_like_an_image_gets_a_record_and_is_left_in_place(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = folders(tmp_path)
    os.mkfifo(inbox / "b.png")  # no writer, ever: a blocking open() waits for ever
    (inbox / "good.png").write_bytes(png(90))
    run = run_once(inbox, out, model, *moves(tmp_path))
    assert run.returncode == exit_codes.PARTIAL, run.stderr
    records = by_path(out)
    assert records["b.png"]["error"] == "b.png: not a regular file (a pipe, socket or device)"
    assert records["good.png"]["label"] in LABELS
    assert stat.S_ISFIFO((inbox / "b.png").lstat().st_mode)  # left alone
    assert not list((tmp_path / "failed").iterdir())
    again = run_once(inbox, out, model, *moves(tmp_path))
    assert again.returncode == exit_codes.OK, again.stderr
    assert "0 classified, 0 failed" in again.stderr
    assert len(read_results(out)) == 2


def test_a_file_the_service_user_cannot_read_gets_a_failed_record_and_goes_to_failed(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = folders(tmp_path)
    (inbox / "good.png").write_bytes(png(90))
    (inbox / "locked.png").write_bytes(png(30))
    popen = service_user()
    make_unreadable(inbox / "locked.png", popen)
    run = run_once(inbox, out, model, *moves(tmp_path), **popen)
    assert run.returncode == exit_codes.PARTIAL, run.stderr
    records = by_path(out)
    assert records["locked.png"]["error"] == "locked.png: permission denied"
    assert records["good.png"]["label"] in LABELS
    assert (tmp_path / "failed" / "locked.png").exists()
    assert (tmp_path / "done" / "good.png").exists()
    again = run_once(inbox, out, model, *moves(tmp_path), **popen)
    assert again.returncode == exit_codes.OK, again.stderr
    assert len(read_results(out)) == 2


def test_a_name_that_is_not_utf8_is_classified_once_and_moved_under_its_own_name(
    carded, tmp_path: Path
) -> None:
    # A Windows share serves Latin-1 names as bytes that are not UTF-8.
    model = str(carded("binary_gray.tflite"))
    inbox, out = folders(tmp_path)
    (inbox / os.fsdecode(b"caf\xe9.png")).write_bytes(png(90))
    run = run_once(inbox, out, model)  # stays in the inbox: the journal must recognise it
    assert run.returncode == exit_codes.OK, run.stderr
    (record,) = read_results(out)
    assert record["path"] == "caf\\xe9.png" and record["label"] in LABELS
    journal = json_lines(out / "results.jsonl.journal")  # valid UTF-8 JSON lines
    assert len(journal) == 1
    again = run_once(inbox, out, model, *moves(tmp_path))  # recognised, not decided again
    assert again.returncode == exit_codes.OK, again.stderr
    assert "0 classified, 0 failed" in again.stderr
    assert len(read_results(out)) == 1
    assert os.listdir(os.fsencode(tmp_path / "done")) == [b"caf\xe9.png"]


def test_a_torn_last_journal_line_is_cut_and_nothing_decided_is_decided_again(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = inbox_holding(tmp_path, "a.png", "b.png")
    audit = out / "audit.jsonl"
    assert run_once(inbox, out, model, "--audit", str(audit)).returncode == exit_codes.OK
    journal = out / "results.jsonl.journal"
    whole = journal.read_bytes()
    # What a power cut during the next commit leaves: the start of a line, no newline.
    journal.write_bytes(whole + whole.splitlines(keepends=True)[0][:40])
    (inbox / "c.png").write_bytes(png(170))
    again = run_once(inbox, out, model, "--audit", str(audit))
    assert again.returncode == exit_codes.OK, again.stderr
    assert "1 classified, 0 failed" in again.stderr
    assert sorted(by_path(out)) == ["a.png", "b.png", "c.png"]
    assert journal.read_bytes().startswith(whole)
    assert len(json_lines(journal)) == 3
    assert len(json_lines(audit)) == 3


@pytest.mark.parametrize("torn", ["results.jsonl", "audit.jsonl"])
def test_a_torn_last_line_of_the_results_or_the_audit_is_cut(
    carded, tmp_path: Path, torn: str
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = inbox_holding(tmp_path, "a.png")
    audit = out / "audit.jsonl"
    assert run_once(inbox, out, model, "--audit", str(audit)).returncode == exit_codes.OK
    damaged = out / torn
    damaged.write_bytes(damaged.read_bytes() + damaged.read_bytes()[:40])
    (inbox / "b.png").write_bytes(png(120))
    again = run_once(inbox, out, model, "--audit", str(audit))
    assert again.returncode == exit_codes.OK, again.stderr
    assert sorted(r["path"] for r in json_lines(out / "results.jsonl")) == ["a.png", "b.png"]
    assert len(json_lines(audit)) == 2


@pytest.mark.parametrize("how", ["in place", "after a move"])
def test_a_file_replaced_by_another_of_the_same_size_and_mtime_is_classified(
    carded, tmp_path: Path, how: str
) -> None:
    # cp -p, rsync -t, fixed-size DICOM: the same name, size and modification time.
    model = str(carded("binary_gray.tflite"))
    inbox, out = folders(tmp_path)
    first, second = png(10, compress_level=0), png(200, compress_level=0)
    assert len(first) == len(second) and first != second
    args = [] if how == "in place" else ["--done", str(tmp_path / "done")]
    scan = inbox / "scan.png"
    scan.write_bytes(first)
    os.utime(scan, ns=(MTIME_NS, MTIME_NS))
    assert run_once(inbox, out, model, *args).returncode == exit_codes.OK
    scan.write_bytes(second)  # in place: the same inode, overwritten
    os.utime(scan, ns=(MTIME_NS, MTIME_NS))
    again = run_once(inbox, out, model, *args)
    assert again.returncode == exit_codes.OK, again.stderr
    assert "1 classified, 0 failed" in again.stderr
    one, two = read_results(out)
    assert one["path"] == two["path"] == "scan.png"
    assert one["sha256"] != two["sha256"]
    if how == "after a move":
        assert (tmp_path / "done" / "scan.png").read_bytes() == first
        assert (tmp_path / "done" / "scan.1.png").read_bytes() == second


def fail_on(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, file: str, error: Exception
) -> None:
    """Make `owner.name` raise `error` when called about `file` (an argument, or its path)."""
    real = getattr(owner, name)

    def failing(*args: Any) -> Any:
        if any(file in str(getattr(arg, "path", arg)) for arg in args):
            raise error
        return real(*args)

    monkeypatch.setattr(owner, name, failing)


def _in_process(
    model: Path, inbox: Path, out: Path, **settings: Any
) -> tuple[InboxProcessor, list[str]]:
    """A watcher's processor run once over `inbox` in this process; and what it reported."""
    classifier = Classifier(model, ClassifierOptions(input_check="off"))
    options = WatchSettings(
        inbox=inbox, results=out / "results.jsonl", settle=0, once=True, **settings
    )
    audit = RunAudit.open(options.audit, mode="watch") if options.audit else None
    reports: list[str] = []
    processor = InboxProcessor(options, classifier, audit, reports.append)
    try:
        InboxWatcher(options, processor, reports.append).run(threading.Event())
    finally:
        processor.close()
        classifier.close()
        if audit:
            audit.log.close()
    return processor, reports


def test_an_unforeseen_failure_on_one_file_is_that_files_failed_record(
    carded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A decoder bug (anything but the ImageError a bad image gives) costs one file, not the loop.
    from edgexray.preprocessing import Preprocessor

    inbox, out = inbox_holding(tmp_path, "a.png", "bad.png", "c.png")
    fail_on(monkeypatch, Preprocessor, "inspect", "bad.png", RuntimeError("a bug\nand more"))
    processor, _ = _in_process(carded("binary_gray.tflite"), inbox, out, failed=tmp_path / "failed")
    assert (processor.classified, processor.failed) == (2, 1)
    records = by_path(out)
    assert records["bad.png"]["error"] == "bad.png: unexpected error (RuntimeError: a bug)"
    assert records["a.png"]["label"] in LABELS and records["c.png"]["label"] in LABELS
    assert (tmp_path / "failed" / "bad.png").exists()


def test_a_file_that_cannot_be_moved_is_reported_and_the_loop_goes_on(
    carded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # E.g. an unreadable file and --failed on another file system: the move copies, and fails.
    import edgexray.inbox.processor as processor_module

    inbox, out = inbox_holding(tmp_path, "a.png", "stuck.png", "c.png")
    denied = PermissionError(13, "Permission denied")
    fail_on(monkeypatch, processor_module, "move_atomically", "stuck.png", denied)
    processor, reports = _in_process(
        carded("binary_gray.tflite"), inbox, out, done=tmp_path / "done"
    )
    assert processor.classified == 3
    assert sorted(by_path(out)) == ["a.png", "c.png", "stuck.png"]
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["a.png", "c.png"]
    assert (inbox / "stuck.png").exists()
    assert [r for r in reports if "stuck.png" in r] == [
        f"cannot move stuck.png to {tmp_path / 'done'}: Permission denied"
    ]


def test_the_commits_are_grouped_per_batch(
    carded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Journal, audit and results: one fsync each for everything that was ready at once.
    model = carded("binary_gray.tflite")
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    def fsyncs(count: int) -> int:
        inbox, out = tmp_path / f"inbox{count}", tmp_path / f"out{count}"
        inbox.mkdir()
        out.mkdir()
        for i in range(count):
            (inbox / f"{i}.png").write_bytes(png(i * 20))
        calls.clear()
        processor, _ = _in_process(model, inbox, out, audit=out / "audit.jsonl")
        assert processor.classified == count
        return len(calls)

    assert fsyncs(12) == fsyncs(1) == 3


_KILLED_AT_THE_AUDIT = """
import os, signal, sys
from edgexray.cli.main import main

audit, when = sys.argv[1], sys.argv[2]
real_write = os.write


def write(fd, data):
    if os.readlink(f"/proc/self/fd/{fd}") == audit:
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(fd, data)
        os.kill(os.getpid(), signal.SIGKILL)
    return real_write(fd, data)


os.write = write
main(sys.argv[3:])
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_9_at_the_audit_line_leaves_one_audit_line_per_decision(
    carded, tmp_path: Path, when: str
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = inbox_holding(tmp_path, "0.png", "1.png", "2.png")
    audit = (out / "audit.jsonl").resolve()
    args = watch_args(inbox, out, "-m", model, "--settle", "0", "--once", "--audit", str(audit))
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AT_THE_AUDIT, str(audit), when, *args[3:]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == exit_codes.OK, again.stderr
    journal = json_lines(out / "results.jsonl.journal")
    lines = json_lines(audit)
    assert len(journal) == len(lines) == 3  # each decision once, in each
    decisions = sorted(e["record"]["decision_id"] for e in journal)
    assert sorted(a["decision_id"] for a in lines) == decisions
    assert sorted(r["decision_id"] for r in read_results(out)) == decisions
    assert sorted(by_path(out)) == ["0.png", "1.png", "2.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_one_watch_survives_every_fault_keeps_running_and_stops_on_sigterm(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    (inbox, out), staging = folders(tmp_path), tmp_path / "staging"
    done, failed, audit = tmp_path / "done", tmp_path / "failed", out / "audit.jsonl"
    staging.mkdir()
    popen = service_user()
    args = watch_args(inbox, out, "-m", model, "--settle", "0", *moves(tmp_path))
    args += ["--scan-interval", "1", "--audit", str(audit)]

    def drop(name: str, data: bytes, mode: int = 0o644, mtime_ns: int | None = None) -> None:
        """Write `name` beside the inbox, then rename it in (complete at once)."""
        path = staging / name
        path.write_bytes(data)
        path.chmod(mode)
        if mtime_ns is not None:
            os.utime(path, ns=(mtime_ns, mtime_ns))
        path.rename(inbox / name)

    whole = png(7, side=400)
    (staging / "probe.png").write_bytes(b"x")
    make_unreadable(staging / "probe.png", popen)
    watcher = running(args, **popen)
    try:
        os.mkfifo(inbox / "b.png")
        drop("good.png", png(90))
        drop(os.fsdecode(b"caf\xe9.png"), png(120))
        drop("truncated.png", whole[: len(whole) // 2])
        drop("corrupt.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
        drop("locked.png", png(30), mode=0)
        drop("same.png", png(10, compress_level=0), mtime_ns=MTIME_NS)
        wait_for(lambda: len(read_results(out)) == 7 and (done / "same.png").exists())
        drop("same.png", png(200, compress_level=0), mtime_ns=MTIME_NS)
        wait_for(lambda: len(read_results(out)) == 8)
        assert watcher.poll() is None  # still watching
    finally:
        stderr = stopped(watcher)
    assert watcher.returncode == exit_codes.OK, stderr
    assert "4 classified, 4 failed (stopped)" in stderr and "Traceback" not in stderr

    records = read_results(out)
    labelled = Counter(r["path"] for r in records if r.get("label") in LABELS)
    assert labelled == {"good.png": 1, "caf\\xe9.png": 1, "same.png": 2}
    errors = {r["path"]: r["error"] for r in records if "error" in r}
    assert sorted(errors) == ["b.png", "corrupt.png", "locked.png", "truncated.png"]
    assert errors["b.png"] == "b.png: not a regular file (a pipe, socket or device)"
    assert errors["locked.png"] == "locked.png: permission denied"
    assert errors["truncated.png"].startswith("truncated.png: corrupt or truncated image")
    assert errors["corrupt.png"].startswith("corrupt.png: ")
    assert stat.S_ISFIFO((inbox / "b.png").lstat().st_mode)  # left in place
    assert sorted(os.listdir(os.fsencode(done))) == [
        b"caf\xe9.png", b"good.png", b"same.1.png", b"same.png"
    ]  # fmt: skip
    assert sorted(p.name for p in failed.iterdir()) == [
        "corrupt.png",
        "locked.png",
        "truncated.png",
    ]

    # A power cut during the next commit tears the journal's last line; the restart starts, cuts
    # it, and decides only the new file (the FIFO, still in the inbox, is not decided again).
    journal = out / "results.jsonl.journal"
    journal.write_bytes(journal.read_bytes() + b'{"key":"0123')
    watcher = running(args, **popen)
    try:
        drop("after.png", png(150))
        wait_for(lambda: len(read_results(out)) == 9)
    finally:
        stderr = stopped(watcher)
    assert watcher.returncode == exit_codes.OK, stderr
    assert "1 classified, 0 failed (stopped)" in stderr
    entries, lines = json_lines(journal), json_lines(audit)
    assert len(entries) == len(lines) == 9
    decisions = sorted(e["record"]["decision_id"] for e in entries)
    assert sorted(a["decision_id"] for a in lines) == decisions
    assert Counter(r["path"] for r in read_results(out))["same.png"] == 2
    (inbox / "b.png").unlink()
