"""One classification result, the input check it passed or failed, or the error that prevented it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from edgexray.inputcheck.result import NOT_CHECKED, InputCheck
from edgexray.model_identity import ModelIdentity
from edgexray.preprocessing.input_file import display_name


@dataclass(frozen=True)
class Prediction:
    """label: the decided class; confidence: its probability (0..1); probabilities: one per label.

    For a binary model the label is decided with the card's threshold on the positive class, so the
    label is not always the one with the larger probability. `error` is set (and the rest empty) when
    the image could not be classified. `source`: facts about the input file that a result should
    carry, by format (a DICOM file's UIDs, view and the window applied; see docs/dicom.md); None
    for plain images. input_check: what the input checks found; when it is `rejected` the image
    was not judged (no label, `rejected` says why). model: which model decided (its loaded bytes'
    SHA-256, card state, signer, overrides); None for a result made without a Classifier.
    sha256: of the input file's bytes as read (once) for this decision; None for data without a
    file (an array, a PIL image).
    """

    path: str | None = None
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    source: Mapping[str, Any] | None = None
    input_check: InputCheck = NOT_CHECKED
    model: ModelIdentity | None = None
    sha256: str | None = None

    @property
    def rejected(self) -> str | None:
        """Why the input checks refused this image (strict mode), or None."""
        return self.input_check.reason if self.input_check.rejected else None

    @property
    def ok(self) -> bool:
        """True when the image has a label (it was decoded, and not rejected)."""
        return self.error is None and not self.input_check.rejected

    def to_record(self) -> dict[str, Any]:
        """The record every output writes (JSON, JSONL, Arrow, HTTP, the audit log, watch): path
        and error as printable UTF-8 (a name that is not valid UTF-8 shows its bytes as \\xNN), so
        every consumer can write it whatever the file was called."""
        record: dict[str, Any] = {"path": None if self.path is None else display_name(self.path)}
        if self.sha256 is not None:
            record["sha256"] = self.sha256
        if self.source is not None:
            record["source"] = dict(self.source)
        if self.error is not None:
            record["error"] = display_name(self.error)
        elif self.input_check.rejected:
            record["rejected"] = self.rejected
        else:
            record.update(
                label=self.label,
                confidence=self.confidence,
                probabilities=dict(self.probabilities),
            )
        if self.error is None:
            record["input_check"] = self.input_check.to_dict()
        if self.model is not None:
            record["model"] = self.model.to_record()
        return record


@dataclass(frozen=True)
class Judged:
    """A decision with what it was made on, from one read and one decode of the input (what an
    explanation needs: edgexray.explain). prediction: as `Classifier.predict` gives it, checks
    included. model_input: the float32 (H, W, C) input the engine ran, None when the prediction
    has no label (the input checks refused the image). film: the decoded image that input was
    made from (a DICOM file windowed as for the model), shrunk for a screen or an overlay; None
    when no film was asked for or the input could not be decoded."""

    prediction: Prediction
    model_input: np.ndarray | None
    film: Image.Image | None
