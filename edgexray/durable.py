"""Append-only files whose lines survive a crash whole: audit logs, journals, result logs.

Each append is one `write` under an exclusive lock, then fsync. A kill -9 in the middle of a large
write, or a power cut before the fsync returned, can still leave the file's last line torn: the
start of a line and no newline (or, on file systems that do not order data before sizes, such as
FAT on an SD card, bytes that are not the line). Such a line was never acknowledged to anyone, so
it is cut when the file is next opened (DurableAppender) or read (`read_records`), and the next
line starts on a line of its own; every line before it is kept.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgexray.errors import EdgexrayError

_CHUNK = 1 << 16


class AppendError(EdgexrayError):
    """An append-only file cannot be opened, read or written."""


def _read_all(fd: int) -> bytes:
    size, parts, offset = os.fstat(fd).st_size, [], 0
    while offset < size:
        part = os.pread(fd, min(_CHUNK * 16, size - offset), offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
    return b"".join(parts)


def _last_line_end(fd: int, size: int) -> int:
    """The offset just after the file's last newline (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        at = os.pread(fd, end - start, start).rfind(b"\n")
        if at >= 0:
            return start + at + 1
        end = start
    return 0


class DurableAppender:
    """A file opened for appending. Each `append` is one `write` call under an exclusive lock
    (threads of this process and, through flock, other processes), followed by fsync: lines never
    interleave and every line in the file is complete, even after `kill -9`. A torn last line
    (see the module docstring) is cut when the file is opened; `torn` says how many bytes.

    Rotation: under the lock, before each operation, the file at `path` is checked to be the one
    open (same inode); when logrotate (or anyone) renamed or removed it, a new file is opened at
    `path`, so no line goes to the rotated file after the rename. `copytruncate` cannot be made
    safe (lines written between its copy and its truncate are lost whatever the writer does):
    rotate by renaming."""

    def __init__(self, path: Path, what: str, mode: int = 0o640) -> None:
        self.path = Path(path)
        self.what = what
        self.mode = mode
        self._lock = threading.Lock()
        self._fd = self._open()
        #: Bytes of a torn last line cut from the file (when opened, and by read_records).
        self.torn = 0
        with self._locked("open"):
            size = os.fstat(self._fd).st_size
            if size and os.pread(self._fd, 1, size - 1) != b"\n":
                self._cut(_last_line_end(self._fd, size), size)

    def _open(self) -> int:
        try:
            return os.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode
            )
        except OSError as exc:
            raise AppendError(
                f"cannot open the {self.what} {self.path}: {exc.strerror or exc}"
            ) from None

    def _reopen_if_rotated(self) -> None:
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(self._fd)
        if current is None or (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
            fd = self._open()
            os.close(self._fd)
            self._fd = fd

    @contextmanager
    def _locked(self, doing: str) -> Iterator[None]:
        """The file (reopened first if it was rotated), locked against this process's threads and
        other processes; an OSError becomes an AppendError naming the file."""
        with self._lock:
            self._reopen_if_rotated()
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError as exc:
                raise AppendError(
                    f"cannot {doing} the {self.what} {self.path}: {exc.strerror or exc}"
                ) from None

    def _cut(self, keep: int, size: int) -> None:
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        self.torn += size - keep

    def append(self, line: str) -> None:
        """Append `line` (a newline is added) and fsync."""
        self.append_lines([line])

    def append_lines(self, lines: Sequence[str]) -> None:
        """Append `lines` (a newline after each) with one write and one fsync: a batch of lines
        costs what one line costs."""
        if not lines:
            return
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        with self._locked("write"):
            written = os.write(self._fd, data)
            while written < len(data):  # a short write is finished under the lock
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)

    def read_records(self, skip_damaged: bool = False) -> list[dict[str, Any]]:
        """Every line of the file as a JSON object. A last line that is not JSON is torn: it is
        cut. A damaged line elsewhere is an AppendError naming the file and the line, or, with
        `skip_damaged`, passed over (for logs that are only searched)."""
        with self._locked("read"):
            data = _read_all(self._fd)
            lines = data.split(b"\n")[:-1]  # the file ends with a newline (or is empty)
            records: list[dict[str, Any]] = []
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                except ValueError:
                    if number == len(lines):
                        self._cut(len(data) - len(line) - 1, len(data))
                    elif not skip_damaged:
                        raise AppendError(
                            f"the {self.what} {self.path} is damaged at line {number} (not a "
                            "JSON record); move the file aside, or remove that line"
                        ) from None
                    continue
                records.append(record)
        return records

    def close(self) -> None:
        os.close(self._fd)
