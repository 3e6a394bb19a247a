"""Deciding what the node received: each spooled object through the one decision path, its
results into the outbox, a line in the decision journal, its audit line.

The order makes a crash safe at every point:

1. the object is classified (Classifier: input checks, trust policy; read once, from the spooled
   bytes, as an InputFile);
2. its results go into the outbox (UIDs named by the input and the model: made again after a
   crash, they are the same instances, so nothing is sent twice);
3. the journal line (the record, the result UIDs, the audit line) is appended and fsync'd: the
   commit point;
4. the audit line is appended (a restart appends the audit lines a kill left unwritten);
5. the object leaves the spool.

An object whose SHA-256 is in the journal is never decided again (sent twice by the modality, or
a kill between 3 and 5). Objects that are not images, or whose modality the model does not take,
are accepted and left unclassified: their journal line holds the error record saying why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgexray.audit import RunAudit, new_id, utc_now
from edgexray.classifier import Classifier
from edgexray.durable import DurableAppender
from edgexray.errors import EdgexrayError, ImageError
from edgexray.pacs.folder import explanation_for
from edgexray.pacs.outbox import Outbox
from edgexray.pacs.results import DicomResults, ResultError, is_dicom_decision
from edgexray.pacs.settings import ResultSettings
from edgexray.pacs.spool import Spool
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import InputFile, input_from_bytes

Report = Callable[[str], None]


class DecisionJournal:
    """One JSON line per received object decided: `sha256` (of the object received), `decision_id`,
    `time`, `calling_ae`, `status` (classified, rejected, unclassified), `record`
    (Prediction.to_record: never patient data), `results` (the SOP Instance UIDs queued), `audit`
    (its audit line, with --audit)."""

    def __init__(self, path: Path) -> None:
        self._file = DurableAppender(Path(path), "decision journal")
        self.entries = self._file.read_records()
        self._known = {entry["sha256"] for entry in self.entries}

    def known(self, sha256: str) -> bool:
        return sha256 in self._known

    def commit(self, entry: dict[str, Any]) -> None:
        self._file.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        self.entries.append(entry)
        self._known.add(entry["sha256"])

    def close(self) -> None:
        self._file.close()


def status_of(prediction: Prediction) -> str:
    if prediction.ok:
        return "classified"
    return "rejected" if prediction.rejected is not None else "unclassified"


class Decider:
    """Decides spooled objects one at a time (the engine runs one call at a time anyway)."""

    def __init__(
        self,
        classifier: Classifier,
        settings: ResultSettings,
        spool: Spool,
        outbox: Outbox,
        journal: DecisionJournal,
        auditor: RunAudit | None,
        report: Report,
    ) -> None:
        self.classifier = classifier
        self.results = DicomResults(classifier.identity, classifier.card, settings)
        self.spool = spool
        self.outbox = outbox
        self.journal = journal
        self.auditor = auditor
        self.report = report
        self.decided = 0

    def reconcile(self) -> None:
        """After a restart: the audit lines of committed decisions a kill left unwritten."""
        if self.auditor is None:
            return
        written = self.auditor.log.decision_ids()
        missing = [
            e["audit"]
            for e in self.journal.entries
            if e.get("audit") and e["decision_id"] not in written
        ]
        if missing:
            self.auditor.log.append(missing)

    def _predict(self, source: InputFile) -> Prediction:
        try:
            return self.classifier.predict(source)
        except ImageError as exc:  # not an image, a modality the model does not take, damaged
            return Prediction(
                model=self.classifier.identity,
                path=source.path,
                sha256=source.sha256,
                error=str(exc),
                source=exc.source,
            )
        except EdgexrayError as exc:  # the engine failed on it: its own record, the node goes on
            return Prediction(
                model=self.classifier.identity,
                path=source.path,
                sha256=source.sha256,
                error=str(exc),
            )

    def decide(self, path: Path, calling_ae: str = "") -> dict[str, Any] | None:
        """Decide the spooled object at `path`; its journal entry (None when it was decided
        before)."""
        data = path.read_bytes()
        source = input_from_bytes(data, path.name)
        if self.journal.known(source.sha256):
            self.spool.remove(path)
            return None
        prediction = self._predict(source)
        queued: list[str] = []
        if is_dicom_decision(prediction):
            try:
                explanation = (
                    explanation_for(self.classifier, source)
                    if self.results.settings.overlay and prediction.ok
                    else None
                )
                made = self.results.make(source, prediction, explanation)
                self.outbox.add(made)
                queued = [result.sop_instance_uid for result in made]
            except ResultError as exc:
                self.report(f"no DICOM result: {exc}")
        decision_id = new_id()
        entry: dict[str, Any] = {
            "time": utc_now(),
            "sha256": source.sha256,
            "decision_id": decision_id,
            "calling_ae": calling_ae,
            "status": status_of(prediction),
            "record": prediction.to_record(),
            "results": queued,
        }
        if self.auditor is not None:
            entry["audit"] = self.auditor.entry(prediction, decision_id=decision_id)
        self.journal.commit(entry)
        if self.auditor is not None:
            self.auditor.log.append([entry["audit"]])
        self.spool.remove(path)
        self.decided += 1
        return entry
