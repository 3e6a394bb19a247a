"""Result writers, one class per output format, all streaming: a record is written (and flushed) as
soon as it is known, so memory stays flat and an interrupted run keeps every finished record.

CSV and JSONL files always end on a complete record. A JSON file is written to a temporary file and
renamed into place when closed, so a reader sees the previous file or a complete new one.
"""

from __future__ import annotations

import csv
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, TextIO, cast

from edgexray.atomic import AtomicFile
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import display_name


def display_path(path: str | None) -> str:
    """A printable form of a file name for the CLI's messages and cells ("-" for none)."""
    return "-" if path is None else display_name(path)


class ResultWriter(ABC):
    def __init__(self, stream: TextIO, labels: tuple[str, ...]) -> None:
        self.stream = stream
        self.labels = labels

    @abstractmethod
    def write(self, prediction: Prediction) -> None: ...

    def close(self) -> None:
        self.stream.flush()


class JSONLWriter(ResultWriter):
    def write(self, prediction: Prediction) -> None:
        self.stream.write(json.dumps(prediction.to_record(), ensure_ascii=False) + "\n")
        self.stream.flush()


class JSONWriter(ResultWriter):
    """A JSON array, streamed element by element."""

    def __init__(self, stream: TextIO, labels: tuple[str, ...]) -> None:
        super().__init__(stream, labels)
        self.count = 0
        self.stream.write("[")

    def write(self, prediction: Prediction) -> None:
        separator = ",\n  " if self.count else "\n  "
        self.stream.write(separator + json.dumps(prediction.to_record(), ensure_ascii=False))
        self.count += 1
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n]\n" if self.count else "]\n")
        super().close()


def check_text(record: dict[str, Any]) -> str:
    """A record's input check in one cell: empty when it passed or was off, else `rejected: why`
    or `warned: why`."""
    reasons = _reasons(record)
    return f"{record['input_check']['status']}: {reasons}" if reasons else ""


def _reasons(record: dict[str, Any]) -> str:
    """The reasons of a record's input check findings as one line ("" when none failed)."""
    findings = (record.get("input_check") or {}).get("findings", ())
    return "; ".join(finding["reason"] for finding in findings)


def _cell_path(record: dict[str, Any]) -> str:
    return "-" if record["path"] is None else str(record["path"])


class CSVWriter(ResultWriter):
    """Columns: path, label, confidence, p_<label>..., error, input_check, source (the record's
    `source` facts as compact JSON, e.g. a DICOM file's UIDs and view; empty for plain images).
    Every cell comes from the record JSON writes (Prediction.to_record)."""

    def __init__(self, stream: TextIO, labels: tuple[str, ...]) -> None:
        super().__init__(stream, labels)
        self.columns = [
            "path",
            "label",
            "confidence",
            *(f"p_{x}" for x in labels),
            "error",
            "input_check",
            "source",
        ]
        self.writer = csv.DictWriter(stream, fieldnames=self.columns, lineterminator="\n")
        self.writer.writeheader()
        self.stream.flush()

    def write(self, prediction: Prediction) -> None:
        record = prediction.to_record()
        source = record.get("source")
        row: dict[str, Any] = {
            "path": _cell_path(record),
            "error": record.get("error", ""),
            "input_check": check_text(record),
            "source": ""
            if source is None
            else json.dumps(source, ensure_ascii=False, separators=(",", ":")),
        }
        if "label" in record:
            row.update(label=record["label"], confidence=f"{record['confidence']:.6f}")
            row.update({f"p_{k}": f"{v:.6f}" for k, v in record["probabilities"].items()})
        self.writer.writerow(row)
        self.stream.flush()


class TableWriter(ResultWriter):
    """Aligned columns for people: label, confidence, one probability per class, then the path.
    The path comes last so that no path, however long, can push the other columns out of line
    (records are streamed: the longest path is not known when the first row is written). Every
    cell comes from the record JSON writes (Prediction.to_record)."""

    def __init__(self, stream: TextIO, labels: tuple[str, ...]) -> None:
        super().__init__(stream, labels)
        self.label_width = max(len("label"), *(len(x) for x in labels))
        self.prob_widths = [max(6, len(x)) for x in labels]
        head = [f"{'label':<{self.label_width}}", "confidence"]
        head += [f"{x:>{w}}" for x, w in zip(labels, self.prob_widths, strict=True)]
        self.stream.write("  ".join([*head, "path"]) + "\n")

    def write(self, prediction: Prediction) -> None:
        record = prediction.to_record()
        path = _cell_path(record)
        if "label" in record:
            probabilities = record["probabilities"]
            cells = [f"{record['label']:<{self.label_width}}", f"{record['confidence']:>10.4f}"]
            cells += [
                f"{probabilities[x]:>{w}.4f}"
                for x, w in zip(self.labels, self.prob_widths, strict=True)
            ]
            cells.append(path)
            warned = _reasons(record)
            if warned:
                cells.append(f"WARNING: {warned}")
        else:
            cells = [f"{'-':<{self.label_width}}", f"{'-':>10}"]
            cells += [f"{'-':>{w}}" for w in self.prob_widths]
            cells.append(path)
            if "rejected" in record:
                cells.append(f"REJECTED: {record['rejected']}")
            else:
                cells.append(f"ERROR: {record.get('error', '')}")
        self.stream.write("  ".join(cells).rstrip() + "\n")
        self.stream.flush()


WRITERS: dict[str, type[ResultWriter]] = {
    "table": TableWriter,
    "csv": CSVWriter,
    "json": JSONWriter,
    "jsonl": JSONLWriter,
}


class OutputFile:
    """The destination of a writer: a file written in place (line formats) or via a temporary file
    renamed on success (whole-document formats)."""

    def __init__(self, path: Path, atomic: bool) -> None:
        self.path = path
        self._atomic = AtomicFile(path) if atomic else None
        if self._atomic is not None:
            self.stream: TextIO = cast(TextIO, self._atomic.stream)
        else:
            self.stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115

    def commit(self) -> None:
        if self._atomic is not None:
            self._atomic.commit()
        else:
            self.stream.close()

    def discard(self) -> None:
        if self._atomic is not None:
            self._atomic.discard()
        else:
            self.stream.close()
