"""The model a server holds: loaded once, warmed up, and what one upload does with it."""

from __future__ import annotations

import base64
import dataclasses
import io
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from edgexray.classifier import Classifier
from edgexray.errors import EdgexrayError, EngineError, ImageError
from edgexray.explain import InputRejected
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import display_name
from edgexray.reference import file_sha256


def png_data_url(image: Image.Image) -> str:
    """`image` as a PNG `data:` URL, which a page shows without another request."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class ExplainUnavailable(EdgexrayError):
    """This build of edgexray has no heatmaps (Classifier.explain)."""


@dataclass(frozen=True)
class Heatmap:
    """A heatmap for the screen: the overlay as a PNG data URL, and the explanation's record
    without the prediction (Explanation.evidence_record: explained label, method, peak,
    `localized` and, when the map shows no evidence, `not_localized` saying why)."""

    overlay: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Classified:
    """The outcome of one upload: the prediction (or its error), the upload's SHA-256, seconds
    spent decoding and running the model, and the heatmap when asked."""

    prediction: Prediction
    input_sha256: str
    seconds: float
    heatmap: Heatmap | None = None
    preview: str | None = None

    def record(self) -> dict[str, Any]:
        """The record `classify --format json` writes for the file, plus its SHA-256 and, when
        asked, the heatmap (`overlay` and `explanation`) and the `preview`. Fields the prediction
        carries (input check, DICOM identifiers...) pass through as they are."""
        record = self.prediction.to_record()
        record["sha256"] = self.input_sha256
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
        self.upload_dir = Path(tempfile.mkdtemp(prefix="edgexray-serve-"))

    @property
    def name(self) -> str:
        return self.classifier.card.name

    @property
    def model_id(self) -> str:
        """name, variant and the first 12 hex digits of the file's SHA-256."""
        card = self.classifier.card
        return f"{card.name}:{card.variant}:{self.sha256[:12]}"

    @property
    def signer(self) -> str | None:
        """Who signed the model file, when this build verifies signatures and it is signed."""
        signer = getattr(self.classifier, "signer", None)
        return None if signer is None else str(signer)

    @property
    def can_explain(self) -> bool:
        return callable(getattr(self.classifier, "explain", None))

    def describe(self) -> dict[str, Any]:
        """The card, with the file's hash, the engine and the signer (GET /v1/model)."""
        engine = self.classifier.engine
        return {
            "card": self.classifier.card.to_dict(),
            "file": self.classifier.path.name,
            "sha256": self.sha256,
            "engine": engine.name,
            "engine_version": engine.library_version,
            "signer": self.signer,
            "explain": self.can_explain,
        }

    def warm_up(self) -> None:
        """One inference on a blank input, so the first request does not pay for lazy set-up."""
        card = self.classifier.card
        blank = np.zeros((1, card.input_height, card.input_width, card.input_channels), np.float32)
        self.classifier.predict_tensor(blank)

    def classify_upload(
        self, upload: IO[bytes], filename: str, explain: bool, preview: bool = False
    ) -> Classified:
        """Classify one uploaded file (any format `classify` reads). The bytes are copied to a
        private file first, so the upload goes through exactly the checks a file on disk does. An
        image that cannot be read comes back as a Prediction with `error`, naming the upload.
        explain: add the heatmap (for a classified image). preview: add the image as the model saw
        it (Preprocessor.display) as a PNG data URL, for any image that was decoded: a browser
        shows it whatever the upload's format (DICOM included)."""
        started = time.perf_counter()
        name = display_name(filename or "upload")
        suffix = "".join(c for c in Path(name).suffix[:12] if c.isalnum() or c == ".")
        with tempfile.NamedTemporaryFile(dir=self.upload_dir, suffix=suffix) as saved:
            shutil.copyfileobj(upload, saved, 1 << 20)
            saved.flush()
            path = Path(saved.name)
            digest = file_sha256(path)
            heatmap = None
            try:
                if explain:
                    prediction, heatmap = self._explained(path)
                else:
                    prediction = self.classifier.predict(path)
            except (ImageError, EngineError) as exc:
                message = str(exc).replace(display_name(path), name)
                prediction = Prediction(error=message)
            shown = (
                png_data_url(self.classifier.preprocessor.display(path))
                if preview and prediction.error is None
                else None
            )
        prediction = dataclasses.replace(prediction, path=name)
        return Classified(prediction, digest, time.perf_counter() - started, heatmap, shown)

    def _explained(self, path: Path) -> tuple[Prediction, Heatmap | None]:
        """The decision on `path` and its heatmap (Classifier.explain: one read and decode, the
        checks of `predict`), the overlay as a PNG data URL; no heatmap for an image the input
        checks refuse."""
        explain = getattr(self.classifier, "explain", None)
        if explain is None:
            raise ExplainUnavailable("heatmaps are not available in this build of edgexray")
        try:
            explanation = explain(path)
        except InputRejected as exc:
            return exc.prediction, None
        heatmap = Heatmap(png_data_url(explanation.overlay), explanation.evidence_record())
        return explanation.prediction, heatmap

    def close(self) -> None:
        self.classifier.close()
        shutil.rmtree(self.upload_dir, ignore_errors=True)
