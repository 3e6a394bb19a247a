"""File events from watchdog (inotify on Linux, or its polling observer for network shares), turned
into calls on a thread-safe inbox of paths. watchdog is optional: without it the watcher relies on
its own periodic scans and the settle time."""

from __future__ import annotations

import logging
import queue
from pathlib import Path
from typing import Any, Literal

EventKind = Literal["written", "closed", "gone"]


class EventFeed:
    """Starts an observer on `folder` (recursive) and queues (kind, path) pairs for the watcher's
    loop, which alone touches the readiness state (no locks needed there)."""

    def __init__(self, folder: Path, polling: bool) -> None:
        self.queue: queue.SimpleQueue[tuple[EventKind, Path]] = queue.SimpleQueue()
        self._observer: Any = None
        self.mode = "scans only (watchdog not installed)"
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
            from watchdog.observers.polling import PollingObserver
        except ImportError:
            return
        feed = self.queue

        class Handler(FileSystemEventHandler):
            def on_created(self, event: Any) -> None:
                if not event.is_directory:
                    feed.put(("written", Path(event.src_path)))

            def on_modified(self, event: Any) -> None:
                if not event.is_directory:
                    feed.put(("written", Path(event.src_path)))

            def on_closed(self, event: Any) -> None:
                feed.put(("closed", Path(event.src_path)))

            def on_moved(self, event: Any) -> None:
                feed.put(("gone", Path(event.src_path)))
                if not event.is_directory:
                    feed.put(("closed", Path(event.dest_path)))

            def on_deleted(self, event: Any) -> None:
                feed.put(("gone", Path(event.src_path)))

        self._observer = PollingObserver() if polling else Observer()
        self._observer.schedule(Handler(), str(folder), recursive=True)
        self._observer.start()
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
