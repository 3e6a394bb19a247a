"""File events from watchdog (inotify on Linux, or its polling observer for network shares), turned
into calls on a thread-safe queue of (kind, path) pairs. watchdog is optional: without it the
watcher relies on its own periodic scans and the settle time.

Kinds: "created" (a file appeared: made, linked, or moved in from outside the watched folders),
"written" (its content changed), "opened" (someone opened it), "closed" (a writer closed it, or it
was renamed into place inside the watched folders), "read" (a reader closed it), "gone" (deleted
or renamed away), "lost" (the kernel dropped events; the path is the watched folder).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

EventKind = Literal["created", "written", "opened", "closed", "read", "gone", "lost"]


def _tells_writers(observer: Any) -> bool:
    """Whether `observer` reports opens and closes (inotify: IN_OPEN, IN_CLOSE_WRITE,
    IN_CLOSE_NOWRITE) and keeps a change of attributes apart from a write (watchdog 7 and later:
    before, a chmod or touch was a "modified" event too, and would look like a writer that never
    closes)."""
    try:
        from watchdog.events import FileAttribEvent  # noqa: F401
        from watchdog.observers.inotify import InotifyObserver
    except ImportError:  # not Linux, or an older watchdog
        return False
    return isinstance(observer, InotifyObserver)


class EventFeed:
    """Starts an observer on each of `folders` (recursive) and queues (kind, path) pairs for the
    watcher's loop, which alone touches the readiness state (no locks needed there).

    tells_writers: True when "written" means a writer holds the file open until its "closed"
    (inotify); False for polling, where it only means the size or time changed."""

    def __init__(self, folders: Sequence[Path], polling: bool) -> None:
        self.queue: queue.SimpleQueue[tuple[EventKind, Path]] = queue.SimpleQueue()
        self._observer: Any = None
        self.tells_writers = False
        self.mode = "scans only (watchdog not installed)"
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
            from watchdog.observers.polling import PollingObserver
        except ImportError:
            return
        feed = self.queue

        class Handler(FileSystemEventHandler):
            def _put(self, kind: EventKind, event: Any) -> None:
                if not event.is_directory:
                    feed.put((kind, Path(event.src_path)))

            def on_created(self, event: Any) -> None:
                self._put("created", event)

            def on_modified(self, event: Any) -> None:
                self._put("written", event)

            def on_opened(self, event: Any) -> None:
                self._put("opened", event)

            def on_closed(self, event: Any) -> None:
                self._put("closed", event)

            def on_closed_no_write(self, event: Any) -> None:
                self._put("read", event)

            def on_moved(self, event: Any) -> None:
                feed.put(("gone", Path(event.src_path)))
                if not event.is_directory:
                    feed.put(("closed", Path(event.dest_path)))

            def on_deleted(self, event: Any) -> None:
                feed.put(("gone", Path(event.src_path)))

            def on_events_lost(self, event: Any) -> None:
                feed.put(("lost", Path(event.src_path)))

        self._observer = PollingObserver() if polling else Observer()
        for folder in folders:
            self._observer.schedule(Handler(), str(folder), recursive=True)
        self._observer.start()
        self.tells_writers = not polling and _tells_writers(self._observer)
        self.mode = "polling" if polling else f"events ({type(self._observer).__name__})"

    def drain(self) -> list[tuple[EventKind, Path]]:
        events = []
        while True:
            try:
                events.append(self.queue.get_nowait())
            except queue.Empty:
                return events

    def stop(self) -> None:
        if self._observer is None:
            return
        # Stopping races with the emitter thread, which then logs a harmless error.
        quiet = logging.getLogger("watchdog.observers.inotify")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            self._observer.stop()
            self._observer.join(10)
        finally:
            quiet.setLevel(level)
