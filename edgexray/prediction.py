"""One classification result, or the error that prevented it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Prediction:
    """label: the decided class; confidence: its probability (0..1); probabilities: one per label.

    For a binary model the label is decided with the card's threshold on the positive class, so the
    label is not always the one with the larger probability. `error` is set (and the rest empty) when
    the image could not be classified. `source`: facts about the input file that a result should
    carry, by format (a DICOM file's UIDs, view and the window applied; see docs/dicom.md); None
    for plain images.
    """

    path: str | None = None
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    source: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"path": self.path}
        if self.source is not None:
            record["source"] = dict(self.source)
        if self.error is not None:
            record["error"] = self.error
            return record
        record.update(
            label=self.label, confidence=self.confidence, probabilities=dict(self.probabilities)
        )
        return record
