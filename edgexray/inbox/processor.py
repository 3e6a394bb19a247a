"""What happens to one finished file, in an order that survives a crash at any point:

1. classify; 2. write the audit line (if any); 3. commit to the journal (the commit point);
4. publish: append the result to the results file (and write the per-image JSON); 5. move the file
to --done or --failed.

A file in --failed that changes after it failed (a writer still held it when it was taken) is a
new file: it is classified again in the same order, and goes to --done if it now succeeds.

A kill before 3 leaves the file unfinished: it is classified again after the restart (its audit
line, if written, is then followed by a second one: two decisions were made). A kill after 3 never
classifies it again: `reconcile` publishes the journal's results the results file lacks, and the
watcher moves files that are finished but still in the inbox.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgexray.atomic import write_bytes_atomically
from edgexray.audit import RunAudit, utc_now
from edgexray.classifier import Classifier
from edgexray.durable import DurableAppender
from edgexray.errors import EngineError, ImageError
from edgexray.inbox.journal import FileKey, Journal, Stamp, is_failure
from edgexray.inbox.moves import move_atomically
from edgexray.inbox.settings import WatchSettings
from edgexray.prediction import Prediction
from edgexray.reference import file_sha256


def _key_of(record: dict[str, Any]) -> str:
    return FileKey(record["path"], record["sha256"]).as_text()


class InboxProcessor:
    def __init__(
        self,
        settings: WatchSettings,
        classifier: Classifier,
        audit: RunAudit | None,
        report: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.settings = settings
        self.report = report
        self.classifier = classifier
        self.audit = audit
        self.journal = Journal(settings.journal_path)
        self.results = DurableAppender(settings.results, "results file", 0o644)
        self.classified = self.failed = 0
        # Files in --failed found (by their SHA-256) to hold a failure's content as it was.
        self._unchanged_failures: set[Stamp] = set()

    def reconcile(self) -> int:
        """Publish the journal's results that the results file lacks (a kill between commit and
        publish); return how many."""
        published = {_key_of(record) for record in self.results.read_records()}
        for appender in (self.journal, self.results):
            if appender.torn:
                self.report(
                    f"cut a torn last line ({appender.torn} bytes) from {appender.path}, "
                    "what a kill or a power cut during its write leaves"
                )
        missing = [e["record"] for k, e in self.journal.entries.items() if k not in published]
        for record in missing:
            self._publish(record)
        return len(missing)

    def finished(self, path: Path, stamp: Stamp) -> bool:
        """If a file with this stat() is in the journal, move it where it belongs (a kill came
        before its move, or it stays in the inbox) and return True."""
        record = self.journal.record_for(stamp)
        if record is None:
            return False
        self.move(path, stamp.relative, is_failure(record))
        return True

    def finished_in_failed(self, path: Path, stamp: Stamp) -> bool:
        """If `path`, a file in --failed with this stat(), needs nothing (a failure moved there as
        it was, a retry since decided, a file found to hold a failure's content), return True,
        after moving it to --done when its retry succeeded (a kill came before that move)."""
        if stamp in self._unchanged_failures:
            return True
        record = self.journal.record_for(stamp)
        if record is None:
            return False
        if not is_failure(record):
            self.move(path, stamp.relative, failed=False)
        return True

    def process(self, path: Path, stamp: Stamp) -> None:
        """Classify `path`, a file in the inbox, unless the journal has it, then move it where
        it belongs."""
        record = self._decide(path, stamp, file_sha256(path))
        self.move(path, stamp.relative, is_failure(record))

    def retry(self, path: Path, stamp: Stamp) -> None:
        """Try again `path`, a file in --failed whose stat() the journal does not have: it changed
        after it failed (its writer finished it there). A file holding a failure's content (moved
        across file systems, or renamed beside a namesake) is only remembered. Otherwise it is
        classified as a new file: a success goes to --done (or stays, without --done), a new
        failure stays until the file changes again."""
        digest = file_sha256(path)
        if self.journal.failed_with(digest):
            self._unchanged_failures.add(stamp)
            return
        if not is_failure(self._decide(path, stamp, digest)):
            self.move(path, stamp.relative, failed=False)

    def _decide(self, path: Path, stamp: Stamp, digest: str) -> dict[str, Any]:
        """The record of `path`: the journal's, or a new decision, committed and published."""
        key = FileKey(stamp.relative, digest)
        if self.journal.knows(key):
            return dict(self.journal.entries[key.as_text()]["record"])
        record = self._classify(path, stamp.relative, digest)
        self.journal.commit(key, stamp, record)
        self._publish(record)
        if is_failure(record):
            self.failed += 1
        else:
            self.classified += 1
        return record

    def move(self, path: Path, relative: str, failed: bool) -> None:
        folder = self.settings.failed if failed else self.settings.done
        if folder is not None and path.exists():
            move_atomically(path, folder, relative)

    def _classify(self, path: Path, relative: str, digest: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            prediction = dataclasses.replace(self.classifier.predict(path), path=relative)
        except (ImageError, EngineError) as exc:
            prediction = Prediction(path=relative, error=str(exc).replace(str(path), relative))
        if self.audit is not None:
            self.audit.record(prediction, digest)
        record = prediction.to_record()
        record.update(
            sha256=digest, time=utc_now(), seconds=round(time.perf_counter() - started, 6)
        )
        return record

    def _publish(self, record: dict[str, Any]) -> None:
        """The per-image JSON first, then the results line: a reader following the results file
        finds the JSON of every line it sees."""
        if self.settings.json_dir is not None:
            target = self.settings.json_dir / (record["path"] + ".json")
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomically(target, json.dumps(record, indent=2).encode() + b"\n")
        self.results.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))

    def close(self) -> None:
        self.journal.close()
        self.results.close()
