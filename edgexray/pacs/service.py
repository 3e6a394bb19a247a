"""The DICOM node as one service: the SCP receives into the spool, one thread decides what was
received, another sends the results. State lives in one folder:

    STATE/spool/           objects received and acknowledged, not yet decided
    STATE/outbox/          results not yet filed by the PACS (outbox/refused/: the PACS said no)
    STATE/outbox/sent.jsonl  the results the PACS filed
    STATE/decisions.jsonl  one line per object decided (the record; never patient data)
    STATE/node.lock        held while a node runs on this folder
"""

from __future__ import annotations

import fcntl
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from edgexray.audit import RunAudit
from edgexray.classifier import Classifier
from edgexray.errors import EdgexrayError
from edgexray.pacs.decider import Decider, DecisionJournal
from edgexray.pacs.node import StorageNode
from edgexray.pacs.node_settings import NodeSettings
from edgexray.pacs.outbox import Outbox, Sender
from edgexray.pacs.spool import Spool

Report = Callable[[str], None]


class StateBusyError(EdgexrayError):
    """Another node runs on the same state folder."""


def _lock(folder: Path) -> int:
    fd = os.open(folder / "node.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateBusyError(f"another dicom-node runs on {folder} (node.lock is held)") from None
    return fd


class NodeService:
    def __init__(
        self,
        settings: NodeSettings,
        classifier: Classifier,
        auditor: RunAudit | None,
        report: Report,
    ) -> None:
        self.settings = settings
        self.report = report
        state = Path(settings.state)
        state.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(state)
        self.spool = Spool(state / "spool")
        self.outbox = Outbox(state / "outbox")
        self.journal = DecisionJournal(state / "decisions.jsonl")
        self.decider = Decider(
            classifier, settings.results, self.spool, self.outbox, self.journal, auditor, report
        )
        self.node = StorageNode(settings, self.spool, report)
        self.sender = Sender(self.outbox, settings.destination, settings.ae_title, report)
        self.wake = threading.Event()

    def _decide(self, path: Path, calling_ae: str) -> None:
        if not path.exists():  # decided already (found at start and received again)
            return
        entry = self.decider.decide(path, calling_ae)
        if entry is not None and entry["results"]:
            self.wake.set()

    def run(self, stop: threading.Event, on_listening: Callable[[str, int], None]) -> None:
        """Serve until `stop` is set: what a crash left in the spool is decided first."""
        self.spool.clear_partial()
        self.decider.reconcile()
        host, port = self.node.start()
        on_listening(host, port)
        sender = threading.Thread(
            target=self.sender.run,
            args=(stop, self.wake, self.settings.retry_s, self.settings.retry_max_s),
            name="edgexray-dicom-sender",
            daemon=True,
        )
        sender.start()
        try:
            for path in self.spool.pending():
                if stop.is_set():
                    break
                self._decide(path, "")
            self.wake.set()
            while not stop.is_set():
                try:
                    path, calling = self.node.received.get(timeout=0.5)
                except queue.Empty:
                    continue
                self._decide(path, calling)
        finally:
            self.node.stop()
            self.wake.set()
            sender.join(timeout=35)

    def close(self) -> None:
        self.journal.close()
        self.outbox.close()
        os.close(self._lock_fd)
