"""Explain a Keras model's decisions with Grad-CAM, as the runtime explains an exported one.

`edgexray explain --keras MODEL.keras` builds a KerasExplainer (by name: the runtime never imports
this module) and writes its explanations with the runtime's files and overlay, so both sides give
the same records. The card is made as export makes it: from the model, its `.training.json` (labels,
normalization, threshold) and the user's overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from edgexray_export.cli.toolchain import require_export_extra
from edgexray_export.errors import ExportError
from edgexray_export.explain.gradcam import GradCam
from edgexray_export.keras_loading import load_keras_model
from edgexray_export.normalization import choose_normalization
from edgexray_export.training.train import read_training_info

from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides
from edgexray.errors import CardError
from edgexray.explain.explainer import Explanation, build_explanation, check_target
from edgexray.postprocess import decide
from edgexray.prediction import Prediction
from edgexray.preprocessing import Preprocessor
from edgexray.preprocessing.decode import ImageInput
from edgexray.preprocessing.dicom import DicomOptions
from edgexray.preprocessing.input_file import InputFile, read_input
from edgexray.preprocessing.transform import DISPLAY_SIDE


def keras_card(model_path: Path, overrides: CardOverrides) -> ModelCard:
    """The card of a Keras model: its tensors, its training record, then the overrides."""
    info = load_keras_model(model_path).info
    trained = read_training_info(Path(model_path)) or {}
    given = overrides.given()
    labels = given.get("labels") or trained.get("labels")
    if not labels:
        raise CardError(f"{model_path}: no training record gives the labels; give --labels A,B,...")
    try:
        return ModelCard(
            labels=tuple(labels),
            task="binary" if info.output_units == 1 else "multiclass",
            input_height=info.input_height,
            input_width=info.input_width,
            input_channels=info.input_channels,
            normalize=given.get("normalize")
            or trained.get("normalize")
            or choose_normalization(None, info.normalization).value,  # type: ignore[arg-type]
            interpolation=given.get("interpolation") or trained.get("interpolation", "bilinear"),
            output_kind=given.get("output_kind") or info.output_kind,  # type: ignore[arg-type]
            threshold=given.get("threshold") or trained.get("threshold"),
            name=info.name,
            variant="keras",
        )
    except CardError as exc:
        raise ExportError(f"{model_path}: {exc}") from None


class KerasExplainer:
    """A Keras model, its card and preprocessing, and Grad-CAM (or Grad-CAM++) on it."""

    def __init__(
        self,
        model_path: Path,
        method: str = "gradcam",
        overrides: CardOverrides | None = None,
        dicom: DicomOptions | None = None,
    ) -> None:
        require_export_extra()
        self.card = keras_card(Path(model_path), overrides or CardOverrides())
        self.preprocessor = Preprocessor.from_card(self.card, dicom=dicom)
        self.cam = GradCam(
            load_keras_model(model_path).model,
            method=method,
            logits=self.card.output_kind == "logits",
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    def explain(self, source: ImageInput, target: str | None = None) -> Explanation:
        """The decision on `source` and the Grad-CAM map of `target` (default: the decided label),
        from one read and one decode of `source` (no input checks: a workstation tool)."""
        check_target(target, self.labels)
        if isinstance(source, (str, os.PathLike)):
            source = read_input(source, self.preprocessor.limits.max_bytes)
        facts = self.preprocessor.inspect(source, sample_colour=False, film_side=DISPLAY_SIDE)
        assert facts.film is not None  # film_side was given
        x = self.preprocessor.normalize_pixels(facts.pixels)[None]
        probabilities = self.cam.probabilities(x)[0]
        labels = self.card.labels
        decided = int(decide(np.asarray(probabilities)[None], self.card)[0])
        file = source if isinstance(source, InputFile) else None
        prediction = Prediction(
            path=None if file is None else file.path,
            sha256=None if file is None else file.sha256,
            label=labels[decided],
            confidence=float(probabilities[decided]),
            probabilities={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
            source=facts.source,
        )
        return build_explanation(
            prediction,
            facts.film,
            lambda k: self.cam.maps(x, k)[1][0],
            target,
            self.cam.method,
            {"layer": self.cam.layer.name},
            # Grad-CAM maps are scaled to their own peak (no absolute units): only an empty map,
            # nothing positive anywhere, is without localized evidence.
            0.0,
        )

    def close(self) -> None:
        """Nothing to release (the CLI closes every explainer the same way)."""


__all__ = ["KerasExplainer", "keras_card"]
