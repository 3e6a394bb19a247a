"""What happens to the files that are ready, in an order that survives a crash at any point.

Everything that is ready at once is one batch (up to BATCH files):

1. each file is read once (read_input: a FIFO or a file the service user may not read is a
failure, never a hang or an exception) and those bytes are classified, decoding ahead in the
classifier's workers as `classify` does;
2. commit the batch to the journal, with each decision's audit line (one write, one fsync): the
commit point;
3. write the audit lines (one write, one fsync);
4. publish: write the per-image JSON files (one fsync each, one per folder), then append the
results (one write, one fsync);
5. move each file to --done or --failed (what is not a regular file stays where it is).

Each file is isolated: whatever goes wrong with one (it cannot be read or decoded, the engine or a
decoder fails on it in a way nobody foresaw) is that file's failed record, and a file that cannot
be moved is reported and left where it is; the loop goes on.

A file in --failed that changes after it failed (a writer still held it when it was taken) is a
new file: it is classified again in the same order, and goes to --done if it now succeeds.

A kill before 2 leaves the batch unfinished: its files are classified again after the restart,
and nothing of them was written anywhere. A kill after 2 never classifies them again: `reconcile`
writes the audit lines of the last batch that the audit log lacks (the only ones a kill can have
left out: a batch's audit lines are written before the next batch is committed), publishes the
journal's results the results file lacks, and the watcher moves files that are finished but
still in the inbox. Each decision carries a decision_id (journal, audit line, result), by which
reconcile tells what is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgexray.atomic import fsync_folder, write_bytes_atomically
from edgexray.audit import RunAudit, new_id, utc_now
from edgexray.classifier import Classifier
from edgexray.durable import DurableAppender
from edgexray.errors import EngineError, ImageError
from edgexray.inbox.journal import Decision, Journal, Stamp, decision_of, is_failure
from edgexray.inbox.moves import move_atomically
from edgexray.inbox.settings import WatchSettings
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import InputFile, display_name, read_input

#: The most files one batch holds: results appear at least this often in a long run.
BATCH = 64


def _unexpected(name: str, exc: Exception) -> str:
    """The one-line error of a failure nobody foresaw (a bug in a decoder, say)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{name}: unexpected error ({type(exc).__name__}{': ' + first if first else ''})"


@dataclass
class _File:
    """A ready file on its way through a batch. read: its bytes, until the classifier has them.
    prediction: a new decision on it (or the failure to read it). record: its result, the
    journal's or the new one. unchanged: a file in --failed that needs nothing."""

    path: Path
    stamp: Stamp
    in_failed: bool
    started: float = 0.0
    read: InputFile | None = None
    prediction: Prediction | None = None
    record: dict[str, Any] | None = None
    unchanged: bool = False


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
        """Write what a kill left unwritten after a commit: the last batch's audit lines the
        audit log lacks, then the results the results file lacks; return how many results."""
        published = {decision_of(record) for record in self.results.read_records()}
        for appender in (self.journal, self.results):
            if appender.torn:
                self.report(
                    f"cut a torn last line ({appender.torn} bytes) from {appender.path}, "
                    "what a kill or a power cut during its write leaves"
                )
        missing = [e for e in self.journal.entries if decision_of(e["record"]) not in published]
        if not missing:
            return 0
        # A result is appended after its audit line: only a missing result's line may be missing.
        unpublished = {decision_of(e["record"]) for e in missing}
        lines = [
            e["audit"]
            for e in self.journal.last_batch()
            if "audit" in e and decision_of(e["record"]) in unpublished
        ]
        if self.audit is not None and lines:
            written = self.audit.log.decision_ids()
            lines = [line for line in lines if line["decision_id"] not in written]
            self.audit.log.append(lines)
            if lines:
                self.report(f"wrote {len(lines)} audit line(s) of decisions before a restart")
        self._publish([e["record"] for e in missing])
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

    def process(self, ready: Sequence[tuple[Path, Stamp, bool]], stop: threading.Event) -> None:
        """Decide the files that are ready, (path, stat(), in --failed) each, whose stat() the
        journal does not have, in batches of up to BATCH; until `stop` is set (then the
        decisions made so far are committed, and the rest is left for the next start).

        A file in the inbox whose content the journal has under its name is only moved. A file
        in --failed changed after it failed (its writer finished it there): one holding a
        failure's content (moved across file systems, or renamed beside a namesake), or that
        cannot be read, is only remembered; otherwise it is classified as a new file, a success
        goes to --done (or stays, without --done), a new failure stays until it changes again."""
        for start in range(0, len(ready), BATCH):
            if stop.is_set():
                return
            files = [_File(*item) for item in ready[start : start + BATCH]]
            handled, decisions = [], []
            for file in self._decided(files, stop):
                handled.append(file)
                if file.prediction is not None:
                    decisions.append(self._decision(file, file.prediction))
            self._commit(decisions)
            for file in handled:
                self._put_away(file)

    def _open(self, file: _File) -> None:
        """Read `file` once (named by its path below the inbox) and tell what it needs."""
        file.started = time.perf_counter()
        read = self._read(file.path, file.stamp.relative)
        if isinstance(read, Prediction):  # cannot be read
            if file.in_failed:
                file.unchanged = True
            else:
                file.prediction = read
            return
        if file.in_failed and self.journal.failed_with(read.sha256):
            file.unchanged = True
            return
        file.record = self.journal.known(file.stamp.relative, read.sha256)
        if file.record is not None:  # decided, then touched or renamed: known without a read now
            self.journal.also_at(file.stamp, file.stamp.relative, read.sha256)
        else:
            file.read = read

    def _decided(self, files: list[_File], stop: threading.Event) -> Iterator[_File]:
        """`files`, each opened and, when it needs a decision, classified: in order, through the
        classifier's batches and decoding workers (the bytes of at most a few batches in memory).
        Stops early when `stop` is set: files read but not yet decided are left out."""
        waiting: deque[_File] = deque()
        unread = iter(files)

        def inputs() -> Iterator[InputFile]:
            for file in unread:
                if stop.is_set():
                    return
                self._open(file)
                waiting.append(file)
                if file.read is not None:
                    yield file.read

        predictions = self.classifier.iter_predictions(inputs())
        try:
            for prediction in predictions:
                while waiting[0].read is None:
                    yield waiting.popleft()
                file = waiting.popleft()
                file.prediction = self._named(prediction, file)
                yield file
                if stop.is_set():
                    return
            yield from waiting
        except Exception:  # not ImageError: something nobody foresaw, from one of several files
            for file in itertools.chain(waiting, unread):  # then each of the rest alone
                if stop.is_set():
                    return
                if not file.started:
                    self._open(file)
                if file.read is not None:
                    file.prediction = self._predict(file)
                yield file
        finally:  # a generator: closing it cancels the decoding ahead nobody will read
            getattr(predictions, "close", lambda: None)()

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

    def _named(self, prediction: Prediction, file: _File) -> Prediction:
        """`prediction` on `file`, with its path below the inbox and the SHA-256 of what was
        read (a failure to decode has both too); its bytes are let go."""
        assert file.read is not None
        named = dataclasses.replace(prediction, path=file.read.path, sha256=file.read.sha256)
        file.read = None
        return named

    def _predict(self, file: _File) -> Prediction:
        """The decision on `file` alone; whatever fails is this file's error."""
        assert file.read is not None
        try:
            prediction = self.classifier.predict(file.read)
        except (ImageError, EngineError) as exc:
            prediction = Prediction(error=str(exc), model=self.classifier.identity)
        except Exception as exc:  # a bug in a decoder costs this file only
            error = _unexpected(file.read.name, exc)
            prediction = Prediction(error=error, model=self.classifier.identity)
        return self._named(prediction, file)

    def _decision(self, file: _File, prediction: Prediction) -> Decision:
        """The new decision on `file`: its result record and audit line, under a new id."""
        decision_id = new_id()
        file.record = prediction.to_record()
        file.record.update(
            decision_id=decision_id,
            time=utc_now(),
            seconds=round(time.perf_counter() - file.started, 6),
        )
        audit = None
        if self.audit is not None:
            audit = self.audit.entry(prediction, decision_id=decision_id)
        return Decision(file.stamp, prediction.sha256, file.record, audit)

    def _commit(self, decisions: list[Decision]) -> None:
        """The new decisions: journal (the commit point), audit lines, results."""
        if not decisions:
            return
        self.journal.commit(decisions)
        if self.audit is not None:
            self.audit.log.append([d.audit for d in decisions if d.audit is not None])
        self._publish([d.record for d in decisions])
        failures = sum(is_failure(d.record) for d in decisions)
        self.failed += failures
        self.classified += len(decisions) - failures

    def _put_away(self, file: _File) -> None:
        """Move a file of the batch where its result says, or remember it as needing nothing."""
        if file.unchanged:
            self._unchanged_failures.add(file.stamp)
        elif file.record is None:  # left out (stopped)
            return
        elif not file.in_failed:
            self.move(file.path, file.stamp, is_failure(file.record))
        elif not is_failure(file.record):
            self.move(file.path, file.stamp, failed=False)

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

    def _publish(self, records: list[dict[str, Any]]) -> None:
        """The per-image JSON files first, then the results lines: a reader following the results
        file finds the JSON of every line it sees."""
        if self.settings.json_dir is not None:
            folders = set()
            for record in records:
                target = self.settings.json_dir / (record["path"] + ".json")
                target.parent.mkdir(parents=True, exist_ok=True)
                data = json.dumps(record, indent=2).encode() + b"\n"
                write_bytes_atomically(target, data, sync_folder=False)
                folders.add(target.parent)
            for folder in folders:
                fsync_folder(folder)
        self.results.append_lines(
            [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
        )

    def close(self) -> None:
        self.journal.close()
        self.results.close()
