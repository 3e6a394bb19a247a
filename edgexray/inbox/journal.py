"""The journal of finished files: the commit point of the inbox watcher.

One JSON line per decision, appended and fsync'd one batch at a time (whole lines, even after
kill -9; a torn last line is cut when the journal is opened), holding the file's key (its SHA-256
and its path relative to the inbox), its stat() (to recognise it again without reading it), the
batch it was committed in, the result record (with its decision_id) and, with --audit, its audit
line. A file whose key is in the journal is never classified again; its result and audit line are
never lost, because a restart writes those a kill left unwritten (InboxProcessor.reconcile).

A file that could not be read (a FIFO, a file the service user may not read) has no SHA-256: its
key is `-:PATH`, and it is recognised by its stat() alone.

Paths are kept as every output shows them (`display_name`: bytes that are not UTF-8 as \\xNN), so
a name from a Windows share is written like any other.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgexray.audit import new_id
from edgexray.durable import DurableAppender
from edgexray.preprocessing.input_file import display_name


def is_failure(record: dict[str, Any]) -> bool:
    """Whether a result record is a failure (an error, or refused by the input checks)."""
    return "error" in record or bool(record.get("rejected"))


def file_key(relative: str, sha256: str | None) -> str:
    """A file's identity for the journal: what it held (`-` when it could not be read) and where
    it was in the inbox."""
    return f"{sha256 or '-'}:{display_name(relative)}"


StampIndex = tuple[str, int, int, int, int]


@dataclass(frozen=True)
class Stamp:
    """What a stat() says about a file, to recognise an unchanged file without reading it.
    relative: its path below the inbox (or --failed), as the file system has it. regular: a
    regular file (not a FIFO, socket or device).

    Size and modification time alone do not tell: `cp -p`, `rsync -t` or a fixed-size DICOM
    export replace a file with another of the same size and mtime. The inode change time cannot be
    set by a program (every write, chmod or rename sets it to now) and a replacement by rename is
    another inode, so a file whose five values are unchanged holds what it held."""

    relative: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    regular: bool = True

    @classmethod
    def of(cls, path: Path, base: Path) -> Stamp | None:
        """The stat() of `path`, named relative to `base`; None if it is gone."""
        try:
            info = path.stat()
        except OSError:
            return None
        return cls(
            os.path.relpath(path, base),
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            info.st_ino,
            stat.S_ISREG(info.st_mode),
        )

    def index(self) -> StampIndex:
        return display_name(self.relative), self.size, self.mtime_ns, self.ctime_ns, self.inode


def decision_of(record: dict[str, Any]) -> str:
    """A result's decision id: the one it carries, or (a record of an older journal) its key."""
    return record.get("decision_id") or file_key(record["path"], record.get("sha256"))


@dataclass(frozen=True)
class Decision:
    """A new decision on a file, to commit: its stat(), the SHA-256 of what was read (None when it
    could not be read), its result record (with its decision_id) and its audit line (if any)."""

    stamp: Stamp
    sha256: str | None
    record: dict[str, Any]
    audit: dict[str, Any] | None = None


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}
        self._by_stamp: dict[StampIndex, dict[str, Any]] = {}
        self._failed_digests: set[str] = set()
        self._file = DurableAppender(self.path, "journal")
        for entry in self._file.read_records():  # a torn last line (a power cut) is cut
            self._remember(entry)

    @property
    def torn(self) -> int:
        """Bytes of a torn last line cut from the journal when it was opened."""
        return self._file.torn

    def _remember(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        digest = entry["key"].split(":", 1)[0]
        if digest != "-":  # read, and known by its content
            self._by_key[entry["key"]] = entry
            if is_failure(entry["record"]):
                self._failed_digests.add(digest)
        if "inode" in entry:  # an entry of an older journal is recognised by content only
            index = (
                entry["relative"],
                entry["size"],
                entry["mtime_ns"],
                entry["ctime_ns"],
                entry["inode"],
            )
            self._by_stamp[index] = entry

    def known(self, relative: str, sha256: str) -> dict[str, Any] | None:
        """The result of the file `relative` with this content, if decided."""
        entry = self._by_key.get(file_key(relative, sha256))
        return None if entry is None else dict(entry["record"])

    def failed_with(self, sha256: str) -> bool:
        """Whether a file with this content is in the journal as a failure (under any name)."""
        return sha256 in self._failed_digests

    def also_at(self, stamp: Stamp, relative: str, sha256: str) -> None:
        """Remember (in memory) that the file with this stat() holds a decided content, so that
        it is not read again (a file renamed, touched or chmod'ed, an older journal entry)."""
        self._by_stamp[stamp.index()] = self._by_key[file_key(relative, sha256)]

    def record_for(self, stamp: Stamp) -> dict[str, Any] | None:
        """The result of a finished file with this stat(), or None (no need to read it)."""
        entry = self._by_stamp.get(stamp.index())
        return None if entry is None else dict(entry["record"])

    def commit(self, decisions: Sequence[Decision]) -> None:
        """Record these files as finished with their results, durably: one batch, one write and
        one fsync. Each entry keeps its audit line, for a restart to write it if a kill came
        before it was (see InboxProcessor.reconcile)."""
        batch = new_id()
        entries = []
        for decision in decisions:
            relative, size, mtime_ns, ctime_ns, inode = decision.stamp.index()
            entry = {
                "key": file_key(decision.stamp.relative, decision.sha256),
                "relative": relative,
                "size": size,
                "mtime_ns": mtime_ns,
                "ctime_ns": ctime_ns,
                "inode": inode,
                "batch": batch,
                "record": decision.record,
            }
            if decision.audit is not None:
                entry["audit"] = decision.audit
            entries.append(entry)
        self._file.append_lines(
            [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entries]
        )
        for entry in entries:
            self._remember(entry)

    def last_batch(self) -> list[dict[str, Any]]:
        """The entries of the last commit: the only ones whose audit lines a kill can have left
        unwritten (a batch's audit lines are written before the next batch is committed)."""
        batch = self.entries[-1].get("batch") if self.entries else None
        return [] if batch is None else [e for e in self.entries if e.get("batch") == batch]

    def close(self) -> None:
        self._file.close()
