"""The model a server holds: loaded once, warmed up, and what one upload does with it."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from PIL import Image

from edgexray.classifier import Classifier
from edgexray.errors import EngineError, ImageError
from edgexray.explain import explain_judged, resolve_method
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import InputFile, input_from_bytes


def png_data_url(image: Image.Image) -> str:
    """`image` as a PNG `data:` URL, which a page shows without another request."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Heatmap:
    """A heatmap for the screen: the overlay as a PNG data URL, and the explanation's record
    without the prediction (Explanation.evidence_record: explained label, method, peak,
    `localized` and, when the map shows no evidence, `not_localized` saying why)."""

    overlay: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Classified:
    """The outcome of one upload: the prediction (or its error; either carries the upload's
    SHA-256 and the model's identity), seconds spent decoding and running the model, and the
    heatmap and preview when asked."""

    prediction: Prediction
    seconds: float
    heatmap: Heatmap | None = None
    preview: str | None = None

    def record(self) -> dict[str, Any]:
        """The record `classify --format json` writes for the file (Prediction.to_record: its
        SHA-256 and model identity included) plus, when asked, the heatmap (`overlay` and
        `explanation`) and the `preview`."""
        record = self.prediction.to_record()
        if self.preview is not None:
            record["preview"] = self.preview
        if self.heatmap is not None:
            record["overlay"] = self.heatmap.overlay
            record["explanation"] = self.heatmap.evidence
        return record


class ServedModel:
    """A Classifier with the facts a service reports about it (file hash, engine)."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.sha256 = classifier.identity.sha256  # of the bytes the engine loaded

    @property
    def name(self) -> str:
        return self.classifier.card.name

    @property
    def model_id(self) -> str:
        """name, variant and the first 12 hex digits of the file's SHA-256."""
        card = self.classifier.card
        return f"{card.name}:{card.variant}:{self.sha256[:12]}"

    @property
    def can_explain(self) -> bool:
        return callable(getattr(self.classifier, "explain", None))

    @property
    def explain_method(self) -> str | None:
        """How `?explain=1` maps a decision (edgexray.explain.resolve_method), None without it."""
        if not self.can_explain:
            return None
        return resolve_method("auto", bool(getattr(self.classifier, "has_class_evidence", False)))

    def describe(self) -> dict[str, Any]:
        """GET /v1/model: the card, and the model identity every record and audit line of this
        service carries (file, SHA-256 of the bytes loaded, card state and digest, signer, signed
        version, engine, precision, threshold, overrides), so a client can tell exactly what
        decides its images; whether it explains, and how."""
        return {
            "card": self.classifier.card.to_dict(),
            "model": self.classifier.identity.to_record(),
            "explain": self.can_explain,
            "explain_method": self.explain_method,
        }

    def warm_up(self) -> None:
        """One inference on a blank input, so the first request does not pay for lazy set-up."""
        card = self.classifier.card
        blank = np.zeros((1, card.input_height, card.input_width, card.input_channels), np.float32)
        self.classifier.predict_tensor(blank)

    def classify_upload(
        self, upload: IO[bytes], filename: str, explain: bool, preview: bool = False
    ) -> Classified:
        """Classify one uploaded file (any format `classify` reads). Its bytes are read once into
        an InputFile (named, hashed once) and decided from memory, through the checks a file on
        disk goes through. An image that cannot be read, or that the engine fails on, comes back
        as a Prediction with `error`, naming the upload and carrying its SHA-256 and the model's
        identity like every other record. explain: add the heatmap (for a classified image).
        preview: add the image as the model saw it (the film of the decision's own decode) as a
        PNG data URL, for any image that was decoded: a browser shows it whatever the upload's
        format (DICOM included)."""
        started = time.perf_counter()
        source = input_from_bytes(upload.read(), filename or "upload")
        heatmap = film = None
        try:
            if explain or preview:
                # One decode gives the decision, the film for the preview and the map's input.
                judged = self.classifier.judge(source)
                prediction, film = judged.prediction, judged.film
                if explain and judged.model_input is not None:
                    explanation = explain_judged(self.classifier, judged)
                    heatmap = Heatmap(
                        png_data_url(explanation.overlay), explanation.evidence_record()
                    )
            else:
                prediction = self.classifier.predict(source)
        except ImageError as exc:
            prediction = self._failed(source, str(exc), exc.source)
        except EngineError as exc:
            prediction = self._failed(source, f"{source.name}: {exc}")
        shown = png_data_url(film) if preview and film is not None else None
        return Classified(prediction, time.perf_counter() - started, heatmap, shown)

    def _failed(
        self, source: InputFile, message: str, facts: Mapping[str, Any] | None = None
    ) -> Prediction:
        """The error record of an upload: its name, SHA-256 and the model that was asked."""
        return Prediction(
            path=source.path,
            sha256=source.sha256,
            error=message,
            source=facts,
            model=self.classifier.identity,
        )

    def close(self) -> None:
        self.classifier.close()
