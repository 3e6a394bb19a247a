"""What a benchmark measures: one model run one way (an edgexray variant, the Keras model, a peer).

A subject is built cheaply in the measuring child process, then `load` (timed) imports its runtime
and reads the model. `infer` takes preprocessed float32 NHWC batches and returns per-class
probabilities, one column per label, so every subject is compared with the same arithmetic.
Subjects are named by an import path `module:Class`, so benchmarks/ can add its own (plain LiteRT,
ONNX Runtime, OpenVINO) without edgexray knowing them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.errors import CardError, ModelError
from edgexray.precision import EXACT
from edgexray.preprocessing import Preprocessor


class Subject(ABC):
    """One model run one way. `card` may be None only for subjects whose file carries one.

    threads: engine threads (None = one per usable core, as the engines do). overrides: card facts the
    user gave (--labels, --normalize...); subjects that read the card from the model file apply
    them, the others get a `card` they are already applied to. sha256: of the bytes the parent
    read and verified (SubjectSpec.sha256); a subject that loads an edgexray model file refuses
    other bytes (ModelError).
    """

    #: Short engine name for reports ("edgexray/litert", "keras", "onnxruntime").
    engine: ClassVar[str]

    def __init__(
        self,
        path: Path,
        card: ModelCard | None,
        threads: int | None,
        overrides: CardOverrides | None = None,
        *,
        sha256: str | None = None,
    ) -> None:
        self.path = Path(path)
        self._card = card
        self.threads = threads
        self.overrides = overrides or CardOverrides()
        self.sha256 = sha256
        self._preprocessor: Preprocessor | None = None

    @property
    def card(self) -> ModelCard:
        if self._card is None:
            raise CardError(f"{self.path}: no model card to preprocess images with")
        return self._card

    @property
    def preprocessor(self) -> Preprocessor:
        if self._preprocessor is None:
            self._preprocessor = Preprocessor.from_card(self.card)
        return self._preprocessor

    @abstractmethod
    def load(self) -> None:
        """Import the runtime and load the model, ready for `infer`."""

    @abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, H, W, C) preprocessed images -> float32 (N, len(labels)) probabilities."""

    def end_to_end(self, image: Path) -> np.ndarray:
        """Decode, preprocess and classify one image file -> (1, len(labels)) probabilities."""
        return self.infer(self.preprocessor(image)[None])

    def engine_label(self) -> str:
        """The engine that ran the model, for reports."""
        return self.engine

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources."""


class EdgexraySubject(Subject):
    """An exported variant run through the public API, `edgexray.Classifier`, as a user runs it."""

    engine = "edgexray"
    #: The edgexray engine to run the file on; None: the default engine for its suffix.
    engine_name: ClassVar[str | None] = None
    #: The precision to run in (edgexray.precision).
    precision: ClassVar[str] = EXACT

    def load(self) -> None:
        self.classifier = Classifier(
            # warn: the checks are timed end to end, and every image of a bench set keeps its label.
            self.path,
            ClassifierOptions(
                threads=self.threads,
                engine=self.engine_name,
                input_check="warn",
                precision=self.precision,
            ),
            self.overrides,
        )
        loaded = self.classifier.identity.sha256  # of the bytes the engine was given
        if self.sha256 is not None and loaded != self.sha256:
            self.classifier.close()
            raise ModelError(
                f"{self.path}: the file changed since bench read and verified it (SHA-256 "
                f"{loaded[:12]}..., verified {self.sha256[:12]}...); refusing to measure it"
            )
        self._card = self.classifier.card

    def engine_label(self) -> str:
        return f"edgexray/{self.classifier.engine.name}"

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.classifier.predict_tensor(batch)

    def end_to_end(self, image: Path) -> np.ndarray:
        prediction = self.classifier.predict(image)
        return np.array([[prediction.probabilities[label] for label in self.card.labels]])

    def close(self) -> None:
        self.classifier.close()


BUILTIN_SUBJECTS = {
    "edgexray": "edgexray.bench.subjects:EdgexraySubject",
    "keras-predict": "edgexray_export.bench_subjects:KerasPredict",
    "keras-tf-function": "edgexray_export.bench_subjects:KerasTFFunction",
}


def subject_class(factory: str) -> type[Subject]:
    """The Subject class named `module:Class` (or a BUILTIN_SUBJECTS key). ModelError if unknown."""
    target = BUILTIN_SUBJECTS.get(factory, factory)
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ModelError(f"unknown benchmark subject {factory!r} ({exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, Subject)):
        raise ModelError(f"{factory!r} is not a benchmark Subject")
    return cls
