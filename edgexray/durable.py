"""Append-only files whose lines survive a crash whole: audit logs, journals, result logs."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from edgexray.errors import EdgexrayError


class AppendError(EdgexrayError):
    """An append-only file cannot be opened or written."""


class DurableAppender:
    """A file opened for appending. Each `append` is one `write` call under an exclusive lock
    (threads of this process and, through flock, other processes), followed by fsync: lines never
    interleave and every line in the file is complete, even after `kill -9`.

    Rotation: before each line, the file at `path` is checked to be the one open (same inode); when
    logrotate (or anyone) renamed or removed it, a new file is opened at `path`, so no line goes
    to the rotated file after the rename. `copytruncate` cannot be made safe (lines written
    between its copy and its truncate are lost whatever the writer does): rotate by renaming."""

    def __init__(self, path: Path, what: str, mode: int = 0o640) -> None:
        self.path = Path(path)
        self.what = what
        self.mode = mode
        self._lock = threading.Lock()
        self._fd = self._open()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
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

    def append(self, line: str) -> None:
        """Append `line` (a newline is added) and fsync."""
        data = (line + "\n").encode("utf-8")
        with self._lock:
            self._reopen_if_rotated()
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    written = os.write(self._fd, data)
                    while written < len(data):  # a short write is finished under the lock
                        written += os.write(self._fd, data[written:])
                    os.fsync(self._fd)
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError as exc:
                raise AppendError(
                    f"cannot write the {self.what} {self.path}: {exc.strerror or exc}"
                ) from None

    def close(self) -> None:
        os.close(self._fd)
