"""The watcher's loop: events and periodic scans feed candidate files; the complete ones are
processed in sorted order, all those ready at once as one batch (InboxProcessor.process), until
asked to stop (between two files, never inside one).

Candidates come from the inbox and, with --failed, from the failed folder too: a file there that
changed after it failed is tried again (InboxProcessor.process), complete by the same rules.
"""

from __future__ import annotations

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
        self.failed = settings.failed.resolve() if settings.failed is not None else None
        self.readiness = ReadinessTracker(settings.settle)
        self._own = settings.own_paths()
        self._candidates: set[Path] = set()

    def _in_failed(self, path: Path) -> bool:
        # Candidates are under the resolved inbox or --failed (scans and watches start there).
        return self.failed is not None and self.failed in path.parents

    def _is_ours_or_hidden(self, path: Path) -> bool:
        if path.name.startswith("."):  # temporary names of copies in progress, our own files
            return True
        resolved = path.resolve()
        return any(resolved == own or own in resolved.parents for own in self._own)

    def _is_candidate(self, path: Path) -> bool:
        """For event paths: an image by its name, in the inbox (not one of our own files) or in
        --failed. (Scans use the runtime's discovery, which may also look inside files without an
        extension; those are found by the next scan.)"""
        if not is_image_name(path) or path.name.startswith("."):
            return False
        return self._in_failed(path) or not self._is_ours_or_hidden(path)

    def _scan(self) -> Iterator[Path]:
        found = discover_images([self.inbox])
        yield from (p for p in found.files if not self._is_ours_or_hidden(p))
        if self.failed is not None and self.failed.is_dir():
            found = discover_images([self.failed])
            yield from (p for p in found.files if not p.name.startswith("."))

    def _stamp(self, path: Path) -> Stamp | None:
        """The file's stat(), with its path relative to its folder (the inbox, or --failed)."""
        base = self.failed if self.failed is not None and self._in_failed(path) else self.inbox
        return Stamp.of(path, base)

    def _take_events(self, feed: EventFeed) -> bool:
        """Apply the events that came; return whether some were lost (then scan now)."""
        lost = False
        for kind, path in feed.drain():
            if kind == "lost":
                self.readiness.lost()
                lost = True
            elif kind == "gone":
                self._candidates.discard(path)
                self.readiness.forget(path)
            elif self._is_candidate(path):
                self._candidates.add(path)
                {
                    "created": self.readiness.created,
                    "written": self.readiness.written,
                    "opened": self.readiness.opened,
                    "closed": self.readiness.closed,
                    "read": self.readiness.read,
                }[kind](path)
        return lost

    def _finished(self, path: Path, stamp: Stamp) -> bool:
        if self._in_failed(path):
            return self.processor.finished_in_failed(path, stamp)
        return self.processor.finished(path, stamp)

    def _ready(self) -> list[tuple[Path, Stamp]]:
        ready = []
        for path in sorted(self._candidates):
            stamp = self._stamp(path)
            if stamp is None or self._finished(path, stamp):
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
        folders = [self.inbox]
        if self.failed is not None:
            # Watched too, for the writers that finish there a file that failed half-written.
            self.failed.mkdir(parents=True, exist_ok=True)
            if self.inbox not in self.failed.parents:  # else the inbox's watch covers it
                folders.append(self.failed)
        feed = EventFeed(folders, self.settings.polling)
        self.readiness = ReadinessTracker(self.settings.settle, feed.tells_writers)
        self.report(f"watching {self.inbox} ({feed.mode})")
        next_scan = 0.0
        try:
            while not stop.is_set():
                if self._take_events(feed):
                    next_scan = 0.0  # the scan finds what the lost events said
                if time.monotonic() >= next_scan:
                    self._candidates.update(self._scan())
                    next_scan = time.monotonic() + self.settings.scan_interval
                ready = self._ready()
                self.processor.process([(p, s, self._in_failed(p)) for p, s in ready], stop)
                for path, _ in ready:
                    self._candidates.discard(path)
                    self.readiness.forget(path)
                if self.settings.once and not self._candidates:
                    break
                stop.wait(TICK)
        finally:
            feed.stop()
