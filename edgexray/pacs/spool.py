"""The spool: objects received and acknowledged, not yet decided.

An object is written here whole and fsync'd (edgexray.atomic) before the node answers the C-STORE
with success, so a received object survives a crash or kill -9 from that moment on; one the node
never acknowledged is the modality's to send again. Files are named by the SHA-256 of what was
received, so the same object sent twice is one file (and one decision, see DecisionJournal).
"""

from __future__ import annotations

import os
from pathlib import Path

from edgexray.atomic import write_bytes_atomically
from edgexray.model_identity import bytes_sha256


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> Path:
        """Keep `data` durably; the path it is kept at."""
        path = self.folder / f"{bytes_sha256(data)}.dcm"
        write_bytes_atomically(path, data)
        return path

    def pending(self) -> list[Path]:
        """Objects waiting, oldest first (temporary files of a write a kill cut short are left
        out: their sender was never told they arrived)."""
        files = [p for p in self.folder.glob("*.dcm") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def clear_partial(self) -> int:
        """Remove temporary files a kill left behind; how many."""
        partial = list(self.folder.glob(".*.tmp"))
        for path in partial:
            os.unlink(path)
        return len(partial)
