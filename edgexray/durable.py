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
    interleave and every line in the file is complete, even after `kill -9`."""

    def __init__(self, path: Path, what: str, mode: int = 0o640) -> None:
        self.path = Path(path)
        self.what = what
        self._lock = threading.Lock()
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
        except OSError as exc:
            raise AppendError(f"cannot open the {what} {path}: {exc.strerror or exc}") from None

    def append(self, line: str) -> None:
        """Append `line` (a newline is added) and fsync."""
        data = (line + "\n").encode("utf-8")
        with self._lock:
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
