"""When is a file in the inbox complete, so that a half-copied scan is never read?

Either it was closed after writing (inotify's IN_CLOSE_WRITE) or renamed into the inbox, and has
not been written since; or its size and modification time have not changed for `settle` seconds
(the only test possible on a network share, where no events arrive).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time since which the file has had this size and mtime
    closed: bool = False


class ReadinessTracker:
    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._seen: dict[Path, _Seen] = {}

    def _entry(self, path: Path) -> _Seen:
        return self._seen.setdefault(path, _Seen(-1, -1, time.monotonic()))

    def written(self, path: Path) -> None:
        """A create or modify event: someone is writing `path`."""
        self._entry(path).closed = False

    def closed(self, path: Path) -> None:
        """A close-after-write event, or `path` was renamed into the inbox."""
        self._entry(path).closed = True

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def is_complete(self, path: Path, size: int, mtime_ns: int) -> bool:
        """Whether `path`, whose stat() now gives `size` and `mtime_ns`, may be read."""
        now = time.monotonic()
        seen = self._entry(path)
        if (seen.size, seen.mtime_ns) != (size, mtime_ns):
            seen.size, seen.mtime_ns, seen.since = size, mtime_ns, now
        return seen.closed or now - seen.since >= self.settle
