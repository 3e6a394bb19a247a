"""Records as Arrow rows: one fixed schema per model, so every batch (and every Parquet file) agrees.

Field names are those of `classify --format json`: path, sha256 (of the input's bytes), label, confidence, probabilities (one
field per label), rejected, error, input_check, source and model. A result has no error; an error record
has only path and error (the others are null in Arrow, and absent in row_to_record's dict, as in
classify's JSON). `source` (a DICOM file's identifiers, whose keys vary by file) and `model` (the
identity of the model that decided) are stored as JSON text, so that one schema holds every file's;
so are the notes the pipeline's stages add to `input_check` (edgexray.stages), as its `notes` field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from edgexray.inputcheck.result import Finding, InputCheck
from edgexray.model_identity import ModelIdentity
from edgexray.prediction import Prediction

FIELDS = (
    "path",
    "sha256",
    "label",
    "confidence",
    "probabilities",
    "rejected",
    "error",
    "input_check",
    "source",
    "model",
)
# Fields whose keys vary (a DICOM file's identifiers; a model identity's overrides): JSON text.
_JSON_FIELDS = ("source", "model")
# The input check's own fields; any other key of its record is a stage's note (JSON text `notes`).
_CHECK_FIELDS = (
    "status",
    "findings",
    "model_score",
    "model_threshold",
    "appearance_score",
    "appearance_threshold",
)
_FINDING = pa.struct(
    [
        ("check", pa.string()),
        ("reason", pa.string()),
        ("score", pa.float64()),
        ("threshold", pa.float64()),
    ]
)


def record_schema(labels: tuple[str, ...]) -> pa.Schema:
    """The Arrow schema of the records of a model with these labels."""
    return pa.schema(
        [
            ("path", pa.string()),
            ("sha256", pa.string()),
            ("label", pa.string()),
            ("confidence", pa.float64()),
            ("probabilities", pa.struct([(label, pa.float64()) for label in labels])),
            ("rejected", pa.string()),
            ("error", pa.string()),
            (
                "input_check",
                pa.struct(
                    [
                        ("status", pa.string()),
                        ("findings", pa.list_(_FINDING)),
                        ("model_score", pa.float64()),
                        ("model_threshold", pa.float64()),
                        ("appearance_score", pa.float64()),
                        ("appearance_threshold", pa.float64()),
                        ("notes", pa.string()),
                    ]
                ),
            ),
            ("source", pa.string()),
            ("model", pa.string()),
        ]
    )


def records_table(predictions: Iterable[Prediction], labels: tuple[str, ...]) -> pa.Table:
    """The records of `predictions` as one Arrow table of record_schema(labels)."""
    rows = [p.to_record() for p in predictions]
    for row in rows:
        check = row.get("input_check")
        if check is not None:
            notes = {k: v for k, v in check.items() if k not in _CHECK_FIELDS}
            row["input_check"] = {k: v for k, v in check.items() if k in _CHECK_FIELDS}
            if notes:
                row["input_check"]["notes"] = json.dumps(notes, ensure_ascii=False, sort_keys=True)
        for name in _JSON_FIELDS:
            if row.get(name) is not None:
                row[name] = json.dumps(row[name], ensure_ascii=False, sort_keys=True)
    return pa.Table.from_pylist(
        [{name: row.get(name) for name in FIELDS} for row in rows], schema=record_schema(labels)
    )


def row_to_record(row: dict[str, Any]) -> dict[str, Any]:
    """An Arrow/Parquet row back to classify's JSON record: null fields dropped."""
    record = {name: row[name] for name in FIELDS if row.get(name) is not None}
    check = record.get("input_check")
    if check is not None:
        record["input_check"] = {key: value for key, value in check.items() if value is not None}
        record["input_check"].update(json.loads(record["input_check"].pop("notes", "{}")))
    for name in _JSON_FIELDS:
        if name in record:
            record[name] = json.loads(record[name])
    return record


def row_to_prediction(row: dict[str, Any]) -> Prediction:
    """An Arrow/Parquet row back to the Prediction it was made from (for the driver's audit log)."""
    record = row_to_record(row)
    check = record.get("input_check") or {"status": "off"}
    return Prediction(
        path=record.get("path"),
        sha256=record.get("sha256"),
        label=record.get("label"),
        confidence=record.get("confidence"),
        probabilities=dict(record.get("probabilities") or {}),
        error=record.get("error"),
        source=record.get("source"),
        input_check=InputCheck(
            check["status"],
            tuple(Finding(**finding) for finding in check.get("findings") or ()),
            notes={k: v for k, v in check.items() if k not in _CHECK_FIELDS},
        ),
        model=ModelIdentity.from_record(record["model"]) if "model" in record else None,
    )
