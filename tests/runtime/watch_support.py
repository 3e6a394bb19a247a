"""Helpers for the tests that run `edgexray watch` as a real process."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image


def watch_args(inbox: Path, out: Path, *args: str) -> list[str]:
    """The command line of `edgexray watch INBOX --results OUT/results.jsonl ARGS`."""
    return [
        sys.executable, "-m", "edgexray.cli.main", "watch", str(inbox),
        "--results", str(out / "results.jsonl"), *args,
    ]  # fmt: skip


def png(value: int, side: int = 24, compress_level: int = 6) -> bytes:
    """A flat grey PNG. compress_level=0 stores the pixels uncompressed: every value then gives a
    file of the same size."""
    buffer = io.BytesIO()
    Image.new("L", (side, side), value % 256).save(
        buffer, format="PNG", compress_level=compress_level
    )
    return buffer.getvalue()


def read_results(out: Path) -> list[dict[str, object]]:
    path = out / "results.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def started(watcher: subprocess.Popen[str]) -> None:
    """Wait until the watcher says it is watching (its events are on)."""
    assert watcher.stderr is not None
    for line in watcher.stderr:
        if "watching" in line:
            return
    raise AssertionError("the watcher ended before watching")


def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The inbox and the results folder, made."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    return inbox, out


def running(args: list[str], **popen: object) -> subprocess.Popen[str]:
    """A watcher started with `args`, once it is watching."""
    watcher = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]
    started(watcher)
    return watcher


def wait_for(condition: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stopped(watcher: subprocess.Popen[str], timeout: float = 30) -> str:
    """SIGTERM the watcher and return the rest of its stderr once it has exited; a watcher that
    does not exit within `timeout` is killed and fails the test."""
    watcher.send_signal(signal.SIGTERM)
    try:
        _, stderr = watcher.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        watcher.kill()
        watcher.communicate(timeout=timeout)
        raise AssertionError("the watcher did not stop on SIGTERM") from None
    return stderr
