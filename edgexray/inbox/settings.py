"""The inbox watcher's settings: one object, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WatchSettings:
    """inbox: the folder watched (recursively). results: the JSONL file results are appended to.
    journal: the journal of finished files (default: RESULTS.journal). json_dir: also write one
    JSON file per image there. done/failed: move processed/failed files there (else they stay).
    settle: seconds a file's size and time must stay unchanged before it is taken, when no writer
    was seen on it (edgexray.inbox.readiness). scan_interval: seconds between full scans (events can be missed; network shares
    have none). polling: use watchdog's polling observer instead of inotify. once: process what is
    in the inbox, then exit. audit: the audit log, if any."""

    inbox: Path
    results: Path
    journal: Path | None = None
    json_dir: Path | None = None
    done: Path | None = None
    failed: Path | None = None
    settle: float = 2.0
    scan_interval: float = 5.0
    polling: bool = False
    once: bool = False
    audit: Path | None = None

    def __post_init__(self) -> None:
        if not self.inbox.is_dir():
            raise ValueError(f"the inbox {self.inbox} is not a folder")
        if self.settle < 0:
            raise ValueError(f"settle time must not be negative, got {self.settle}")
        if not self.scan_interval > 0:
            raise ValueError(f"scan interval must be positive, got {self.scan_interval}")
        inbox = self.inbox.resolve()
        for name in ("done", "failed"):
            folder = getattr(self, name)
            if folder is not None and folder.resolve() == inbox:
                raise ValueError(f"--{name} must not be the inbox itself")

    @property
    def journal_path(self) -> Path:
        return self.journal or self.results.with_name(self.results.name + ".journal")

    def own_paths(self) -> list[Path]:
        """Files and folders the watcher writes, never to be taken as input."""
        paths = [self.results, self.journal_path, self.json_dir, self.done, self.failed, self.audit]
        return [p.resolve() for p in paths if p is not None]
