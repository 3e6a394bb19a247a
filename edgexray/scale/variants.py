"""Several variants of one model on the same images, in one actor: each image is read and decoded
once, and every variant runs on that one preprocessed input, so their probabilities come out side
by side in one row, ready to compare (edgexray.scale.agreement), with nothing to join."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.errors import CardError, EdgexrayError, ImageError
from edgexray.preprocessing.input_file import InputFile
from edgexray.scale.dataset import (
    ACTOR_OPTIONS,
    ModelSource,
    checked_model,
    map_on_actors,
    model_labels,
)
from edgexray.scale.predictor import batch_sources
from edgexray.scale.shipped_model import ShippedModel

if TYPE_CHECKING:
    from ray.data import Dataset

# Row status: every variant gave probabilities; the image could not be read; the input checks
# refused it (strict mode: no variant judges it); some variant's engine failed on it.
OK, UNREADABLE, REJECTED, ENGINE_ERROR = "ok", "unreadable", "rejected", "engine error"


class CompareBatch:
    """`__init__` loads every shipped variant once per actor; `__call__` takes a batch with a
    `bytes` or `path` column (and optionally `truth`, passed through) and returns, per row:
    `path`, `status` (OK, UNREADABLE, REJECTED, ENGINE_ERROR), `error` ("" when none) and
    `probabilities`, float64 (rows, variants, labels), NaN where a variant gave none. The image
    checks apply as `options` say; the model check (pooled features, card schema 2) does not:
    every variant is judged on every image the image checks let through, as bench judges them."""

    def __init__(
        self,
        models: Sequence[ShippedModel],
        options: ClassifierOptions,
        overrides: CardOverrides | None = None,
    ) -> None:
        self.classifiers = [
            Classifier(m.name, options, overrides, checked=m.load()) for m in models
        ]
        # Variants preprocessed alike share one decoded, preprocessed image.
        groups: dict[object, list[int]] = {}
        for i, classifier in enumerate(self.classifiers):
            groups.setdefault(classifier.preprocessor, []).append(i)
        self.groups = list(groups.values())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sources = batch_sources(batch)
        labels = self.classifiers[0].labels
        probabilities = np.full((len(sources), len(self.classifiers), len(labels)), np.nan)
        status = [OK] * len(sources)
        errors = [""] * len(sources)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"PIL\.")
            warnings.filterwarnings("ignore", module=r"pydicom")
            for members in self.groups:
                inputs = self._prepare(members[0], sources, status, errors)
                good = [i for i, x in enumerate(inputs) if x is not None]
                if not good:
                    continue
                stacked = np.stack([x for x in inputs if x is not None])
                for member in members:
                    rows = self._run(member, stacked, [sources[i] for i in good], errors, good)
                    probabilities[good, member] = rows
        for i in range(len(sources)):
            if status[i] == OK and np.isnan(probabilities[i]).any():
                status[i] = ENGINE_ERROR
        paths = [
            source.path
            if isinstance(source, InputFile)
            else source
            if isinstance(source, str)
            else ""
            for source in sources
        ]
        out = {
            "path": np.array(paths, dtype=object),
            "status": np.array(status, dtype=object),
            "error": np.array(errors, dtype=object),
            "probabilities": probabilities,
        }
        if "truth" in batch:
            out["truth"] = np.asarray(batch["truth"], dtype=np.int64)
        return out

    def _prepare(
        self,
        index: int,
        sources: list[object],
        status: list[str],
        errors: list[str],
    ) -> list[np.ndarray | None]:
        """Each source as variant `index` feeds its engine; None (and the row's status and error
        set) when it cannot be decoded or the input checks reject it."""
        inputs: list[np.ndarray | None] = []
        for i, source in enumerate(sources):
            x = None
            try:
                x, check, _ = self.classifiers[index].prepare(source)  # type: ignore[arg-type]
                if x is None and status[i] == OK:
                    status[i], errors[i] = REJECTED, check.reason or "rejected"
            except ImageError as exc:
                if status[i] == OK:
                    status[i], errors[i] = UNREADABLE, str(exc)
            inputs.append(x if status[i] == OK else None)
        return inputs

    def _run(
        self,
        index: int,
        stacked: np.ndarray,
        sources: list[object],
        errors: list[str],
        rows: list[int],
    ) -> np.ndarray:
        """Variant `index`'s probabilities on `stacked`; when its engine fails on the batch, each
        image is retried alone and the ones it fails on get NaN and an error naming the variant."""
        classifier = self.classifiers[index]
        try:
            return classifier.predict_tensor(stacked)
        except EdgexrayError:
            pass
        out = np.full((len(stacked), len(classifier.labels)), np.nan)
        for j in range(len(stacked)):
            try:
                out[j] = classifier.predict_tensor(stacked[j : j + 1])[0]
            except EdgexrayError as exc:
                errors[rows[j]] = f"{classifier.path.name}: {exc}"
        return out


def compare_dataset(
    ds: Dataset,
    models: Sequence[ModelSource],
    *,
    actors: int = 1,
    batch_size: int = 16,
    cpus_per_actor: float = 1.0,
    options: ClassifierOptions = ACTOR_OPTIONS,
    overrides: CardOverrides | None = None,
) -> Dataset:
    """Run every model in `models` (variants of one model: same labels) on every row of `ds`,
    lazily, on a pool of `actors` Ray actors each holding all of them (see CompareBatch for the
    rows it gives; ds as classify_dataset takes it, plus an optional int `truth` column: true
    class index, -1 unknown, passed through). Each image is decoded once for all the variants.
    The models are checked here and shipped through the object store, as in classify_dataset.
    Feed the result to edgexray.scale.ArchiveComparison. Needs a connected Ray (ray.init)."""
    if not models:
        raise ValueError("compare_dataset needs at least one model")
    checked = [checked_model(model) for model in models]  # each file read once, here
    if len({model_labels(model, options, overrides) for model in checked}) > 1:
        raise CardError("the models have different labels; compare variants of one model")
    shipped = [ShippedModel.of(model) for model in checked]
    return map_on_actors(
        ds,
        CompareBatch,
        {"models": shipped, "options": options, "overrides": overrides},
        actors=actors,
        batch_size=batch_size,
        cpus_per_actor=cpus_per_actor,
    )
