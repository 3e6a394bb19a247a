"""The durable outbox: results waiting for the PACS, and the sender (C-STORE SCU) with retry.

A result is a file `<SOP Instance UID>.dcm` in the outbox folder, written atomically. The sender
sends what is there, oldest first; after the PACS answered success it appends the UID to the sent
log (fsync'd) and then removes the file. After a crash:

- a file whose UID is in the sent log is removed without sending;
- a file sent but not yet logged (a kill in the moment between the PACS's answer and the log's
  fsync) is sent again: the same SOP Instance UID (results have UIDs named by their input and
  model, edgexray.pacs.uids.derived_uid), which the PACS files as the one instance it already has.

While the PACS is down, nothing is lost: the files wait, and the sender tries again after
`retry_s`, doubling the wait up to `retry_max_s`. An object the PACS refuses with a failure status
is moved to `refused/` (sending it again would be refused again) with a line in the log.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgexray.atomic import fsync_folder, write_bytes_atomically
from edgexray.audit import utc_now
from edgexray.durable import DurableAppender
from edgexray.pacs.node_settings import Destination
from edgexray.pacs.results import DicomResult

Report = Callable[[str], None]
# C-STORE statuses that mean the object is filed: success and the warnings (PS3.4 B.2.3).
_FILED = {0x0000, 0xB000, 0xB006, 0xB007}


class Outbox:
    """The outbox folder and its sent log."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.refused = self.folder / "refused"
        self.refused.mkdir(parents=True, exist_ok=True)
        self._log = DurableAppender(self.folder / "sent.jsonl", "sent log")
        self._sent = {line["sop_instance_uid"] for line in self._log.read_records()}
        self._lock = threading.Lock()

    def add(self, results: list[DicomResult]) -> None:
        """Queue `results` (each written atomically; the folder synced once). A result already
        sent is not queued again."""
        with self._lock:
            fresh = [r for r in results if r.sop_instance_uid not in self._sent]
        for result in fresh:
            write_bytes_atomically(self.folder / result.file_name, result.data, sync_folder=False)
        if fresh:
            fsync_folder(self.folder)

    def waiting(self) -> list[Path]:
        """Results not yet sent, oldest first; one already in the sent log (a kill came between
        the log and the removal) is removed here."""
        files = sorted(
            (p for p in self.folder.glob("*.dcm") if not p.name.startswith(".")),
            key=lambda p: (p.stat().st_mtime_ns, p.name),
        )
        waiting = []
        for path in files:
            if self.was_sent(path.stem):
                path.unlink(missing_ok=True)
            else:
                waiting.append(path)
        return waiting

    def was_sent(self, uid: str) -> bool:
        with self._lock:
            return uid in self._sent

    def mark_sent(self, path: Path, destination: Destination, status: int) -> None:
        """The PACS filed `path`: log it (durably), then remove the file."""
        uid = path.stem
        self._log.append(
            json.dumps(
                {
                    "time": utc_now(),
                    "sop_instance_uid": uid,
                    "to": str(destination),
                    "status": status,
                }
            )
        )
        with self._lock:
            self._sent.add(uid)
        path.unlink(missing_ok=True)

    def refuse(self, path: Path) -> None:
        path.replace(self.refused / path.name)
        fsync_folder(self.folder)

    def sent_uids(self) -> set[str]:
        with self._lock:
            return set(self._sent)

    def close(self) -> None:
        self._log.close()


@dataclass(frozen=True)
class SendOutcome:
    """What one round of sending did: files filed, refused, and whether the PACS could not be
    reached (or the association failed), so the rest waits."""

    filed: int = 0
    refused: int = 0
    unreachable: str | None = None


class Sender:
    """Sends the outbox to the PACS (C-STORE SCU, pynetdicom), one association per round."""

    def __init__(
        self,
        outbox: Outbox,
        destination: Destination,
        calling_ae: str,
        report: Report,
        ssl_context: Any = None,
    ) -> None:
        self.outbox = outbox
        self.destination = destination
        self.calling_ae = calling_ae
        self.report = report
        self.ssl_context = ssl_context

    def _association(self, files: list[Any]) -> Any:
        from pynetdicom import AE

        ae = AE(ae_title=self.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        for sop_class in sorted({str(ds.SOPClassUID) for ds in files}):
            ae.add_requested_context(sop_class, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
        tls = None if self.ssl_context is None else (self.ssl_context, self.destination.host)
        return ae.associate(
            self.destination.host,
            self.destination.port,
            ae_title=self.destination.ae_title,
            tls_args=tls,
        )

    def send_round(self) -> SendOutcome:
        """Send what waits in the outbox."""
        import pydicom

        waiting = self.outbox.waiting()
        if not waiting:
            return SendOutcome()
        datasets = [pydicom.dcmread(path) for path in waiting]
        try:
            assoc = self._association(datasets)
        except OSError as exc:
            return SendOutcome(unreachable=f"cannot reach {self.destination}: {exc}")
        if not assoc.is_established:
            return SendOutcome(unreachable=f"{self.destination} did not accept the association")
        filed = refused = 0
        try:
            for path, dataset in zip(waiting, datasets, strict=True):
                try:
                    status = assoc.send_c_store(dataset)
                except ValueError:  # the PACS accepted no presentation context for this class
                    self.report(f"{self.destination} takes no {dataset.SOPClassUID.name}")
                    self.outbox.refuse(path)
                    refused += 1
                    continue
                code = int(status.Status) if "Status" in status else None
                if code is None:  # no answer: the association failed
                    return SendOutcome(filed, refused, f"{self.destination}: no answer to C-STORE")
                if code in _FILED:
                    self.outbox.mark_sent(path, self.destination, code)
                    filed += 1
                else:
                    self.report(f"{self.destination} refused {path.name}: status 0x{code:04X}")
                    self.outbox.refuse(path)
                    refused += 1
        finally:
            if assoc.is_established:
                assoc.release()
        return SendOutcome(filed, refused)

    def run(
        self, stop: threading.Event, wake: threading.Event, retry_s: float, retry_max_s: float
    ) -> None:
        """Send until `stop`: a round when woken (`wake`, set when results are queued) or when
        the wait is over; after a failed round the wait doubles, up to `retry_max_s`."""
        wait = retry_s
        while not stop.is_set():
            try:
                outcome = self.send_round()
            except (OSError, RuntimeError, ValueError) as exc:  # a damaged outbox file, a
                # network error inside pynetdicom: the sender must not die, the node goes on
                outcome = SendOutcome(unreachable=f"sending failed ({type(exc).__name__})")
            if outcome.unreachable is not None:
                self.report(f"{outcome.unreachable}; trying again in {wait:g} s")
                stop.wait(wait)
                wait = min(wait * 2, retry_max_s)
                continue
            wait = retry_s
            if outcome.filed or outcome.refused:
                continue  # more may have been queued meanwhile
            wake.wait(retry_max_s)
            wake.clear()
