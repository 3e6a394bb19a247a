"""The audit log: one JSON line per automated decision, appended and fsync'd.

Each line says when (UTC), which request or run, which input (SHA-256, and what the prediction
carries about it, e.g. DICOM identifiers, never patient data), which model (the decision's model
identity: SHA-256 of the bytes the engine loaded, card state and digest, variant, signer, engine and
version, threshold, overrides), the input check, the label and probabilities, and the
latency. Each line is appended whole under an exclusive lock and fsync'd (edgexray.durable): lines
never interleave, and after a crash or `kill -9` every line in the file is complete.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgexray.durable import DurableAppender
from edgexray.prediction import Prediction

# Record fields the audit line already holds in its own shape.
_DECISION_FIELDS = ("path", "sha256", "label", "confidence", "probabilities", "error")


def new_id() -> str:
    """A fresh run or request id."""
    return uuid.uuid4().hex


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds, e.g. 2026-12-01T14:33:23.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """An audit file opened for appending (created with mode 0640). Thread-safe; safe with other
    processes appending to the same file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = DurableAppender(self.path, "audit log")

    def record(self, prediction: Prediction, **facts: Any) -> None:
        """Write the audit line of one decision: `entry(prediction, **facts)`."""
        self.append([self.entry(prediction, **facts)])

    def entry(
        self,
        prediction: Prediction,
        *,
        request_id: str,
        latency_s: float,
        mode: str,
        input_sha256: str | None = None,
        decision_id: str | None = None,
    ) -> dict[str, Any]:
        """The audit line of one decision, to `append`. `mode` says which command decided
        (classify, serve, watch); fields the prediction's record carries beyond the decision
        itself (input check, DICOM identifiers...) are kept as they are. `decision_id`: the
        decision's own id, where one run makes many (watch: the id its journal entry and result
        line carry)."""
        # Names already printable: a non-UTF-8 name cannot fail here.
        record = prediction.to_record()
        entry: dict[str, Any] = {
            "time": utc_now(),
            "mode": mode,
            "request_id": request_id,
            **({} if decision_id is None else {"decision_id": decision_id}),
            "input": {"name": record["path"], "sha256": input_sha256 or prediction.sha256},
            # Which model decided, as the decision carries it (made once where the model loaded).
            "model": None,
            "input_check": None,  # replaced by the prediction's own when this build checks inputs
        }
        entry.update({k: v for k, v in record.items() if k not in _DECISION_FIELDS})
        entry.update(
            label=record.get("label"),
            probabilities=record.get("probabilities", {}),
            error=record.get("error"),
            latency_ms=round(latency_s * 1000, 3),
        )
        return entry

    def append(self, entries: Sequence[dict[str, Any]]) -> None:
        """Append these audit lines with one write and one fsync."""
        self._file.append_lines(
            [json.dumps(entry, ensure_ascii=False, separators=(",", ":")) for entry in entries]
        )

    def decision_ids(self) -> set[str]:
        """The decision ids of the lines in the file (a line of another writer may be damaged:
        it is passed over)."""
        return {
            line["decision_id"]
            for line in self._file.read_records(skip_damaged=True)
            if "decision_id" in line
        }

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stopwatch:
    """Seconds since the last `lap` (or since creation)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        return elapsed


class RunAudit:
    """The audit of one batch run (classify, watch): one run id, each input hashed from its file,
    latency as the time since the previous decision (decoding ahead and batching overlap, so this
    is the run's pace at that point rather than one image's own time)."""

    def __init__(self, log: AuditLog, mode: str) -> None:
        self.log = log
        self.mode = mode
        self.run_id = new_id()
        self._stopwatch = Stopwatch()

    @classmethod
    def open(cls, path: Path, mode: str = "classify") -> RunAudit:
        return cls(AuditLog(path), mode)

    def record(self, prediction: Prediction, input_sha256: str | None = None) -> None:
        """Write the audit line of `prediction`. Its input's SHA-256 is the one the decision
        carries (of the bytes read once to decide it); `input_sha256` is for data read elsewhere
        (stdin)."""
        self.log.append([self.entry(prediction, input_sha256)])

    def record_batch(self, predictions: Sequence[Prediction]) -> None:
        """Write the audit lines of a batch of decisions made together with one write and one
        fsync (an fsync per line can cost more than the inference on an SD card); each line's
        latency is its share of the time since the previous decision."""
        share = self._stopwatch.lap() / max(len(predictions), 1)
        self.log.append([self.entry(p, latency_s=share) for p in predictions])

    def entry(
        self,
        prediction: Prediction,
        input_sha256: str | None = None,
        decision_id: str | None = None,
        latency_s: float | None = None,
    ) -> dict[str, Any]:
        """The audit line of `prediction`, to write later (`log.append`); `latency_s`: by default
        the time since the previous decision."""
        return self.log.entry(
            prediction,
            request_id=self.run_id,
            input_sha256=input_sha256,
            latency_s=self._stopwatch.lap() if latency_s is None else latency_s,
            mode=self.mode,
            decision_id=decision_id,
        )

    def __enter__(self) -> RunAudit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.close()
