"""When is a file complete, so that a half-copied scan is never read?

With inotify (`tells_writers`), a file someone is writing is never taken, however long the writer
pauses: from a write (IN_MODIFY), or a create followed by its creator's open, until the writer
closes it (IN_CLOSE_WRITE). A file closed after writing, or renamed into place, is complete at
once. A file no writer was seen on (there when the watcher started, moved in from another file
system's folder, hard-linked, or whose events the kernel dropped) is complete once its size and
modification time have not changed for `settle` seconds.

Without inotify (polling, for network shares; or scans only, without watchdog), the settle rule
is the only one: a writer that pauses longer than `settle` with the file open can have it taken
half-written (the watcher then tries it again when it changes, see InboxProcessor.process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# Why a writer holds the file: it was opened right after its creation, or written to.
Writer = Literal["opened", "wrote"]


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time since which the file has had this size and mtime
    closed: bool = False
    created: bool = False  # created, and not opened since: its creator's open comes next
    writer: Writer | None = None


class ReadinessTracker:
    """settle: seconds of unchanged size and time that make a file complete when no event says
    so. tells_writers: events say when a writer opens and closes a file (inotify)."""

    def __init__(self, settle: float, tells_writers: bool = False) -> None:
        self.settle = settle
        self.tells_writers = tells_writers
        self._seen: dict[Path, _Seen] = {}

    def _entry(self, path: Path) -> _Seen:
        return self._seen.setdefault(path, _Seen(-1, -1, time.monotonic()))

    def created(self, path: Path) -> None:
        """`path` appeared: created by a writer (who opens it next), or linked or moved in."""
        seen = self._entry(path)
        seen.closed, seen.created = False, True

    def opened(self, path: Path) -> None:
        """Someone opened `path`: its writer, when it comes right after the creation."""
        seen = self._entry(path)
        if seen.created and seen.writer is None:
            seen.writer = "opened"
        seen.created = False

    def written(self, path: Path) -> None:
        """`path` was written to (with inotify: by a writer that will close it)."""
        seen = self._entry(path)
        seen.closed, seen.created, seen.writer = False, False, "wrote"

    def closed(self, path: Path) -> None:
        """A writer closed `path`, or it was renamed into place."""
        seen = self._entry(path)
        seen.closed, seen.created, seen.writer = True, False, None

    def read(self, path: Path) -> None:
        """A reader closed `path`: if the open after its creation was this reader's (the file was
        moved or linked in), no writer holds it. One that wrote is still waited for."""
        seen = self._entry(path)
        if seen.writer == "opened":
            seen.writer = None

    def lost(self) -> None:
        """Events were dropped: a close may be among them, so no file waits for one any more;
        each is complete by the settle rule."""
        for seen in self._seen.values():
            seen.writer, seen.created = None, False

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def is_complete(self, path: Path, size: int, mtime_ns: int) -> bool:
        """Whether `path`, whose stat() now gives `size` and `mtime_ns`, may be read."""
        now = time.monotonic()
        seen = self._entry(path)
        if (seen.size, seen.mtime_ns) != (size, mtime_ns):
            seen.size, seen.mtime_ns, seen.since = size, mtime_ns, now
        if self.tells_writers and seen.writer is not None:
            return False
        return seen.closed or now - seen.since >= self.settle
