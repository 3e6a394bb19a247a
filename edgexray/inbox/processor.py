"""What happens to one finished file, in an order that survives a crash at any point:

1. read it once (read_input: a FIFO or a file the service user may not read is a failure, never a
hang or an exception) and classify those bytes; 2. write the audit line (if any); 3. commit to the
journal (the commit point); 4. publish: append the result to the results file (and write the
per-image JSON); 5. move the file to --done or --failed (what is not a regular file stays).

Each file is isolated: whatever goes wrong with one (it cannot be read or decoded, the engine or a
decoder fails on it in a way nobody foresaw) is that file's failed record, and a file that cannot
be moved is reported and left where it is; the loop goes on.

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
from edgexray.inbox.journal import Journal, Stamp, file_key, is_failure
from edgexray.inbox.moves import move_atomically
from edgexray.inbox.settings import WatchSettings
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import InputFile, display_name, read_input


def _unexpected(name: str, exc: Exception) -> str:
    """The one-line error of a failure nobody foresaw (a bug in a decoder, say)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{name}: unexpected error ({type(exc).__name__}{': ' + first if first else ''})"


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
        # Files in --failed found (by their SHA-256) to hold a failure's content as it was, or
        # that cannot be read there.
        self._unchanged_failures: set[Stamp] = set()
        self._unmovable: set[Path] = set()  # reported once

    def reconcile(self) -> int:
        """Publish the journal's results that the results file lacks (a kill between commit and
        publish); return how many."""
        published = {
            file_key(record["path"], record.get("sha256")) for record in self.results.read_records()
        }
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
        self.move(path, stamp, is_failure(record))
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
            self.move(path, stamp, failed=False)
        return True

    def process(self, path: Path, stamp: Stamp) -> None:
        """Classify `path`, a file in the inbox, unless the journal has its content under its
        name, then move it where it belongs."""
        started = time.perf_counter()
        read = self._read(path, stamp.relative)
        record = None
        if isinstance(read, InputFile):
            record = self.journal.known(stamp.relative, read.sha256)
            if record is not None:  # decided, then touched or renamed: known without a read now
                self.journal.also_at(stamp, stamp.relative, read.sha256)
        if record is None:
            record = self._decide(stamp, read, started)
        self.move(path, stamp, is_failure(record))

    def retry(self, path: Path, stamp: Stamp) -> None:
        """Try again `path`, a file in --failed whose stat() the journal does not have: it changed
        after it failed (its writer finished it there). A file holding a failure's content (moved
        across file systems, or renamed beside a namesake), or that cannot be read, is only
        remembered. Otherwise it is classified as a new file: a success goes to --done (or stays,
        without --done), a new failure stays until the file changes again."""
        started = time.perf_counter()
        read = self._read(path, stamp.relative)
        if not isinstance(read, InputFile) or self.journal.failed_with(read.sha256):
            self._unchanged_failures.add(stamp)
            return
        record = self.journal.known(stamp.relative, read.sha256)
        if record is None:
            record = self._decide(stamp, read, started)
        else:
            self.journal.also_at(stamp, stamp.relative, read.sha256)
        if not is_failure(record):
            self.move(path, stamp, failed=False)

    def _read(self, path: Path, relative: str) -> InputFile | Prediction:
        """The file read once (read_input, which neither blocks on a FIFO nor reads what is not a
        regular file), named by its path below the inbox; or, when it cannot be read, its failure."""
        try:
            read = read_input(path, self.classifier.options.max_bytes)
        except ImageError as exc:
            error = str(exc).replace(display_name(path), display_name(relative), 1)
            return Prediction(path=relative, error=error, model=self.classifier.identity)
        except Exception as exc:  # one file's failure must not end the loop
            error = _unexpected(display_name(relative), exc)
            return Prediction(path=relative, error=error, model=self.classifier.identity)
        return dataclasses.replace(read, path=relative, name=display_name(relative))

    def _predict(self, read: InputFile) -> Prediction:
        """The decision on `read`; whatever fails is this file's error."""
        try:
            prediction = self.classifier.predict(read)
        except (ImageError, EngineError) as exc:
            prediction = Prediction(error=str(exc), model=self.classifier.identity)
        except Exception as exc:  # a bug in a decoder costs this file only
            prediction = Prediction(
                error=_unexpected(read.name, exc), model=self.classifier.identity
            )
        return dataclasses.replace(prediction, path=read.path, sha256=read.sha256)

    def _decide(self, stamp: Stamp, read: InputFile | Prediction, started: float) -> dict[str, Any]:
        """A new decision on the file: classified (or its failure), audited, committed, published."""
        prediction = self._predict(read) if isinstance(read, InputFile) else read
        if self.audit is not None:
            self.audit.record(prediction)
        record = prediction.to_record()
        record.update(time=utc_now(), seconds=round(time.perf_counter() - started, 6))
        self.journal.commit(stamp, prediction.sha256, record)
        self._publish(record)
        if is_failure(record):
            self.failed += 1
        else:
            self.classified += 1
        return record

    def move(self, path: Path, stamp: Stamp, failed: bool) -> None:
        """Move a decided file to --done or --failed. What is not a regular file (a FIFO) stays
        where it is; a file that cannot be moved is reported (once) and stays too."""
        folder = self.settings.failed if failed else self.settings.done
        if folder is None or not stamp.regular or not path.exists():
            return
        try:
            target = move_atomically(path, folder, stamp.relative)
        except OSError as exc:
            if path not in self._unmovable:
                self._unmovable.add(path)
                self.report(
                    f"cannot move {display_name(stamp.relative)} to {display_name(folder)}: "
                    f"{exc.strerror or exc}"
                )
            return
        moved = Stamp.of(target, folder)
        if failed and moved is not None:  # the rename changed its ctime: known without a read
            self._unchanged_failures.add(moved)

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
