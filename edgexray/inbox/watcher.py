"""The watcher's loop: events and periodic scans feed candidate files; complete ones are processed
in sorted order, one at a time, until asked to stop (between two files, never inside one)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edgexray.inbox.events import EventFeed
from edgexray.inbox.journal import Stamp
from edgexray.inbox.processor import InboxProcessor
from edgexray.inbox.readiness import ReadinessTracker
from edgexray.inbox.settings import WatchSettings
from edgexray.preprocessing import discover_images
from edgexray.preprocessing.discovery import is_image_name

TICK = 0.1  # seconds between checks of the candidates


class InboxWatcher:
    def __init__(
        self,
        settings: WatchSettings,
        processor: InboxProcessor,
        report: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.report = report
        self.inbox = settings.inbox.resolve()
        self.readiness = ReadinessTracker(settings.settle)
        self._own = settings.own_paths()
        self._candidates: set[Path] = set()

    def _is_ours_or_hidden(self, path: Path) -> bool:
        if path.name.startswith("."):  # temporary names of copies in progress, our own files
            return True
        resolved = path.resolve()
        return any(resolved == own or own in resolved.parents for own in self._own)

    def _is_input(self, path: Path) -> bool:
        """For event paths: an image by its name. (Scans use the runtime's discovery, which may
        also look inside files without an extension; those are found by the next scan.)"""
        return is_image_name(path) and not self._is_ours_or_hidden(path)

    def _scan(self) -> Iterator[Path]:
        found = discover_images([self.inbox])
        return (p for p in found.files if not self._is_ours_or_hidden(p))

    def _stamp(self, path: Path) -> Stamp | None:
        try:
            info = path.stat()
        except OSError:  # gone meanwhile
            return None
        return Stamp(os.path.relpath(path, self.inbox), info.st_size, info.st_mtime_ns)

    def _take_events(self, feed: EventFeed) -> None:
        for kind, path in feed.drain():
            if kind == "gone":
                self._candidates.discard(path)
                self.readiness.forget(path)
            elif self._is_input(path):
                self._candidates.add(path)
                if kind == "written":
                    self.readiness.written(path)
                else:
                    self.readiness.closed(path)

    def _ready(self) -> list[tuple[Path, Stamp]]:
        ready = []
        for path in sorted(self._candidates):
            stamp = self._stamp(path)
            if stamp is None or self.processor.finished(path, stamp):
                self._candidates.discard(path)
                self.readiness.forget(path)
            elif self.readiness.is_complete(path, stamp.size, stamp.mtime_ns):
                ready.append((path, stamp))
        return ready

    def run(self, stop: threading.Event) -> None:
        """Process the inbox until `stop` is set (or, with `once`, until it is empty)."""
        republished = self.processor.reconcile()
        if republished:
            self.report(f"published {republished} result(s) finished before a restart")
        feed = EventFeed(self.inbox, self.settings.polling)
        self.report(f"watching {self.inbox} ({feed.mode})")
        next_scan = 0.0
        try:
            while not stop.is_set():
                self._take_events(feed)
                if time.monotonic() >= next_scan:
                    self._candidates.update(self._scan())
                    next_scan = time.monotonic() + self.settings.scan_interval
                for path, stamp in self._ready():
                    if stop.is_set():
                        break
                    self.processor.process(path, stamp)
                    self._candidates.discard(path)
                    self.readiness.forget(path)
                if self.settings.once and not self._candidates:
                    break
                stop.wait(TICK)
        finally:
            feed.stop()
