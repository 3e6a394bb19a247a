"""The journal of finished files: the commit point of the inbox watcher.

One JSON line per finished file, appended and fsync'd (whole lines, even after kill -9), holding
the file's key (its path relative to the inbox and its SHA-256), its size and modification time
(to recognise it again without hashing it) and the result record. A file whose key is in the journal
is never classified again; its result is never lost, because the results file is re-synced from the
journal at start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgexray.durable import DurableAppender


def is_failure(record: dict[str, Any]) -> bool:
    """Whether a result record is a failure (an error, or refused by the input checks)."""
    return "error" in record or bool(record.get("rejected"))


@dataclass(frozen=True)
class FileKey:
    """A file's identity for the journal: where it was in the inbox and what it held."""

    relative: str
    sha256: str

    def as_text(self) -> str:
        return f"{self.sha256}:{self.relative}"


@dataclass(frozen=True)
class Stamp:
    """What a stat() says about a file, to recognise an unchanged file without reading it."""

    relative: str
    size: int
    mtime_ns: int


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, dict[str, Any]] = {}
        self._by_stamp: dict[Stamp, str] = {}
        self._failed_digests: set[str] = set()
        self._file = DurableAppender(self.path, "journal")
        for entry in self._file.read_records():  # a torn last line (a power cut) is cut
            self._remember(entry)

    @property
    def torn(self) -> int:
        """Bytes of a torn last line cut from the journal when it was opened."""
        return self._file.torn

    def _remember(self, entry: dict[str, Any]) -> None:
        self.entries[entry["key"]] = entry
        self._by_stamp[Stamp(entry["relative"], entry["size"], entry["mtime_ns"])] = entry["key"]
        if is_failure(entry["record"]):
            self._failed_digests.add(entry["key"].split(":", 1)[0])

    def knows(self, key: FileKey) -> bool:
        return key.as_text() in self.entries

    def failed_with(self, sha256: str) -> bool:
        """Whether a file with this content is in the journal as a failure (under any name)."""
        return sha256 in self._failed_digests

    def record_for(self, stamp: Stamp) -> dict[str, Any] | None:
        """The result of a finished file with this stat(), or None (no need to hash it)."""
        key = self._by_stamp.get(stamp)
        return None if key is None else dict(self.entries[key]["record"])

    def commit(self, key: FileKey, stamp: Stamp, record: dict[str, Any]) -> None:
        """Record `key` as finished with its result, durably."""
        entry = {
            "key": key.as_text(),
            "relative": key.relative,
            "size": stamp.size,
            "mtime_ns": stamp.mtime_ns,
            "record": record,
        }
        self._file.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        self._remember(entry)

    def close(self) -> None:
        self._file.close()
