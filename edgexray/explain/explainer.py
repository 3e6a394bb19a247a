"""One explanation: the decision, its evidence map, the map's summary and the overlay to show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from edgexray.card import ModelCard
from edgexray.errors import EdgexrayError, NoClassEvidenceError
from edgexray.explain.class_evidence import METHOD as CLASS_EVIDENCE
from edgexray.explain.class_evidence import heatmaps
from edgexray.explain.heatmap import NO_EVIDENCE, PROBABILITY_FLOOR, HeatmapSummary, summarize
from edgexray.explain.occlusion import OcclusionConfig, occlusion_map
from edgexray.explain.overlay import render_overlay
from edgexray.prediction import Judged, Prediction
from edgexray.preprocessing.decode import ImageInput
from edgexray.preprocessing.input_file import display_name
from edgexray.preprocessing.transform import DISPLAY_SIDE


class Explainable(Protocol):
    """What `explain` needs of a classifier (edgexray.Classifier is one): its card, its checked
    decision on one input with the input and film it was made on (judge), its engine on a batch
    (predict_tensor) and, for models exported with it (has_class_evidence), the class evidence of
    a batch (class_evidence: (N, h, w, units)). Named here so that explain never
    imports the classifier (which imports explain for Classifier.explain)."""

    card: ModelCard

    def judge(self, source: ImageInput, film_side: int) -> Judged: ...

    def predict_tensor(self, batch: np.ndarray) -> np.ndarray: ...

    @property
    def has_class_evidence(self) -> bool: ...

    def class_evidence(self, batch: np.ndarray) -> np.ndarray: ...


class InputRejected(EdgexrayError):
    """The input checks refused the image (strict mode), as `classify` refuses it: no map is made
    of an image the model is not fit to judge. prediction: that refusal, whose record
    (to_record) is classify's."""

    def __init__(self, prediction: Prediction) -> None:
        name = "image" if prediction.path is None else display_name(prediction.path)
        super().__init__(f"{name}: rejected by the input checks: {prediction.rejected}")
        self.prediction = prediction


@dataclass(frozen=True)
class Explanation:
    """prediction: the decision on the image, as `predict` gives it. target: the label explained
    (the decided one unless another was asked for). heatmap: float32 (H, W) at the model's input
    size, the evidence for the target per pixel (occlusion: probability gained or lost, see
    OcclusionConfig.mode; class evidence: log-odds, see edgexray.explain.class_evidence; Grad-CAM:
    0..1). overlay: the original image (long side at most
    DISPLAY_SIDE) with the heatmap drawn on it, or bare when the map has no localized evidence
    (summary.localized). method and settings: how, for the record."""

    prediction: Prediction
    target: str
    heatmap: np.ndarray
    overlay: Image.Image
    summary: HeatmapSummary
    method: str
    settings: dict[str, Any]

    @property
    def not_localized(self) -> str | None:
        """Why the map shows no evidence (None when it does), in words for a record or a screen."""
        summary = self.summary
        if summary.localized:
            return None
        if summary.floor > 0:
            return (
                f"{NO_EVIDENCE}: no region changes the probability of {self.target} by "
                f"{summary.floor:g} or more (the largest change is {summary.peak_value:.2g})"
            )
        return f"{NO_EVIDENCE}: nothing in the image supports {self.target}"

    def evidence_record(self) -> dict[str, Any]:
        """JSON-ready, without the prediction: the target, method, settings, the map's summary
        and, for a map without localized evidence, `not_localized` saying why."""
        record = {
            "explained": self.target,
            "method": self.method,
            **self.settings,
            **self.summary.to_record(),
        }
        if self.not_localized is not None:
            record["not_localized"] = self.not_localized
        return record

    def to_record(self) -> dict[str, Any]:
        """JSON-ready: the prediction's record, then evidence_record()."""
        return {**self.prediction.to_record(), **self.evidence_record()}


#: How the device explains: "auto" is class evidence for a model exported with it (one inference,
#: edgexray.explain.class_evidence), else occlusion (edgexray.explain.occlusion).
METHODS = ("auto", CLASS_EVIDENCE, "occlusion")


def resolve_method(method: str, has_class_evidence: bool) -> str:
    """CLASS_EVIDENCE or "occlusion" for `method` (one of METHODS) on a model that has class
    evidence or not; NoClassEvidenceError when it was asked for and the model has none."""
    if method not in METHODS:
        raise ValueError(f"explanation method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == CLASS_EVIDENCE and not has_class_evidence:
        raise NoClassEvidenceError(
            "this model has no class evidence output (only a head of global average pooling into "
            "one Dense layer has one, and only when exported by this edgexray): use occlusion"
        )
    if method == "auto":
        return CLASS_EVIDENCE if has_class_evidence else "occlusion"
    return method


def check_target(target: str | None, labels: tuple[str, ...]) -> None:
    """ValueError for a label the model does not have (None: the decided label, always fine)."""
    if target is not None and target not in labels:
        raise ValueError(f"unknown label {target!r}; the model's labels are {', '.join(labels)}")


def build_explanation(
    prediction: Prediction,
    film: Image.Image,
    heatmap_for: Callable[[int], np.ndarray],
    target: str | None,
    method: str,
    settings: dict[str, Any],
    floor: float,
) -> Explanation:
    """An Explanation from any method: the decision (a prediction with a label), the film it was
    made on (drawn under the map) and `heatmap_for(k)`, the (H, W) map of the k-th label's
    evidence (labels in the order of the prediction's probabilities, the card's). floor: the
    smallest peak that is localized evidence, in the map's units (see summarize)."""
    labels = list(prediction.probabilities)
    target = target or prediction.label
    if target is None:
        raise ValueError("an explanation needs a decision: this prediction has no label")
    heatmap = np.asarray(heatmap_for(labels.index(target)), dtype=np.float32)
    summary = summarize(heatmap, floor)
    return Explanation(
        prediction=prediction,
        target=target,
        heatmap=heatmap,
        overlay=render_overlay(film, heatmap, summary.localized),
        summary=summary,
        method=method,
        settings=settings,
    )


def explain(
    classifier: Explainable,
    source: ImageInput,
    target: str | None = None,
    config: OcclusionConfig | None = None,
    display_side: int = DISPLAY_SIDE,
    method: str = "auto",
) -> Explanation:
    """Explain the classifier's decision on `source` (path, PIL image or array) through the
    classifier's own engine: by its class evidence (one inference) when the model has it, else by
    occlusion (`method`: one of METHODS; `config`: occlusion's settings). The decision is
    `predict`'s, input checks, trust policy and DICOM options included (Classifier.judge: one read,
    one decode, which also gives the film under the map); then one engine call for the map
    (explain_judged).

    target: the label whose evidence is mapped (default: the decided label). Raises ImageError when
    the image cannot be read or decoded, InputRejected (its `.prediction` is the refusal) when the
    input checks refuse it, ValueError for a label the model does not have, NoClassEvidenceError
    when class evidence is asked of a model without it.
    """
    check_target(target, classifier.card.labels)
    resolve_method(method, classifier.has_class_evidence)
    judged = classifier.judge(source, display_side)
    return explain_judged(classifier, judged, target, config, method)


def explain_judged(
    classifier: Explainable,
    judged: Judged,
    target: str | None = None,
    config: OcclusionConfig | None = None,
    method: str = "auto",
) -> Explanation:
    """`explain` of a decision already made (Classifier.judge or iter_judged_batches, with its
    film): the map is made on the model input the decision was made on, so nothing is read or
    decoded again. InputRejected when the decision has no label (the input checks refused it)."""
    card = classifier.card
    check_target(target, card.labels)
    x, film = judged.model_input, judged.film
    if x is None or film is None:
        raise InputRejected(judged.prediction)
    if resolve_method(method, classifier.has_class_evidence) == CLASS_EVIDENCE:
        evidence = classifier.class_evidence(x[None])[0]
        return _class_evidence_explanation(judged.prediction, film, evidence, target, card)
    config = config or OcclusionConfig()
    decided = np.array([judged.prediction.probabilities[label] for label in card.labels])
    _, maps = occlusion_map(x, classifier.predict_tensor, config, decided)
    window_y, stride_y = config.window(card.input_height)
    window_x, stride_x = config.window(card.input_width)
    return build_explanation(
        judged.prediction,
        film,
        lambda k: maps[..., k],
        target,
        f"occlusion-{config.mode}",
        {
            "window": [window_y, window_x],
            "stride": [stride_y, stride_x],
            "engine_images": config.engine_images(*x.shape[:2]),
        },
        PROBABILITY_FLOOR,  # an occlusion map is a change of probability
    )


def _class_evidence_explanation(
    prediction: Prediction,
    film: Image.Image,
    evidence: np.ndarray,
    target: str | None,
    card: ModelCard,
) -> Explanation:
    """The explanation from one image's class evidence (h, w, units)."""
    probabilities = np.array([prediction.probabilities[label] for label in card.labels])
    binary = card.task == "binary"
    maps = heatmaps(evidence, probabilities, binary, card.input_height, card.input_width)
    return build_explanation(
        prediction,
        film,
        lambda k: maps[..., k],
        target,
        CLASS_EVIDENCE,
        {"cells": list(evidence.shape[:2]), "engine_images": 1},
        0.0,  # log-odds: any cell that raises the label's log-odds is evidence for it
    )
