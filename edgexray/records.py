"""A Prediction as the record `classify` writes (`--format json`/`jsonl`), printable names included.

Library code (edgexray.scale) and the CLI's writers build records here, so every output of edgexray
has the same field names and the same text for the same result.
"""

from __future__ import annotations

from typing import Any

from edgexray.prediction import Prediction
from edgexray.preprocessing.decode import display_name


def display_path(path: str | None) -> str:
    """A printable form of a file name, also for names that are not valid UTF-8 (shown as \\xNN)."""
    return "-" if path is None else display_name(path)


def display_error(prediction: Prediction) -> str:
    """The error message as valid UTF-8 text: it may quote a file name that is not."""
    return "" if prediction.error is None else display_name(prediction.error)


def prediction_record(prediction: Prediction) -> dict[str, Any]:
    """{path, label, confidence, probabilities} for a result, {path, error} for an error: the
    record of `classify --format json`, with printable (valid UTF-8) path and error."""
    record = prediction.to_record()
    record["path"] = display_path(prediction.path)
    if not prediction.ok:
        record["error"] = display_error(prediction)
    return record
