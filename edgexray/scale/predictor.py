"""The callable class Ray Data runs in each actor: one Classifier per actor, a batch per call."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import display_name
from edgexray.scale.records import records_table
from edgexray.scale.shipped_model import ShippedModel

# What decode errors call an image given as bytes; a record names the file instead.
_UNNAMED = "image data: "


def named_error(error: str, name: str | None) -> str:
    """An error about an image's bytes, worded as if its file `name` had been read (as classify
    words it); unchanged when the image was read from its path (`name` None)."""
    if name is None:
        return error
    return f"{display_name(name)}: {error.removeprefix(_UNNAMED)}"


def _named(prediction: Prediction, name: str | None) -> Prediction:
    """A prediction on an image's bytes, named after its file as if classified from the path."""
    if name is None:
        return prediction
    error = prediction.error
    if error is not None:
        error = named_error(error, name)
    return dataclasses.replace(prediction, path=name, error=error)


def batch_sources(batch: dict[str, np.ndarray]) -> tuple[list[Any], list[str | None]]:
    """The images of a Ray batch: (sources, names). Sources are the `bytes` column (named by
    `path` when present) or else the `path` column (read by the worker, already named: None)."""
    if "bytes" in batch:
        sources: list[Any] = [bytes(b) for b in batch["bytes"]]
        names: list[str | None] = [None] * len(sources)
        if "path" in batch:
            names = [str(p) for p in batch["path"]]
        return sources, names
    if "path" in batch:
        return [str(p) for p in batch["path"]], [None] * len(batch["path"])
    raise ValueError(f"edgexray.scale needs a 'path' or a 'bytes' column, got {sorted(batch)}")


class ClassifyBatch:
    """`__init__` loads the shipped model once per actor; `__call__` takes a batch with a `bytes`
    column (classified from memory, named by `path` when present) or a `path` column (read by the
    worker) and returns its records as an Arrow table, one row per input row, in order."""

    def __init__(
        self,
        model: ShippedModel,
        options: ClassifierOptions,
        overrides: CardOverrides | None = None,
    ) -> None:
        self.classifier = Classifier(model.name, options, overrides, checked=model.load())

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        sources, names = batch_sources(batch)
        with warnings.catch_warnings():
            # As in `classify`: Pillow's warnings name no file; each record says what matters.
            warnings.filterwarnings("ignore", module=r"PIL\.")
            predictions = [
                _named(p, name)
                for p, name in zip(self.classifier.iter_predictions(sources), names, strict=True)
            ]
        return records_table(predictions, self.classifier.labels)
