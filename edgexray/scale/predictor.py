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
from edgexray.preprocessing.decode import display_name
from edgexray.scale.records import records_table
from edgexray.scale.shipped_model import ShippedModel

# What decode errors call an image given as bytes; a record names the file instead.
_UNNAMED = "image data: "


def _named(prediction: Prediction, name: str | None) -> Prediction:
    """A prediction on an image's bytes, named after its file as if classified from the path."""
    if name is None:
        return prediction
    error = prediction.error
    if error is not None:
        error = f"{display_name(name)}: {error.removeprefix(_UNNAMED)}"
    return dataclasses.replace(prediction, path=name, error=error)


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
        names: list[str | None]
        if "bytes" in batch:
            sources: list[Any] = [bytes(b) for b in batch["bytes"]]
            names = [str(p) for p in batch["path"]] if "path" in batch else [None] * len(sources)
        elif "path" in batch:
            sources = [str(p) for p in batch["path"]]
            names = [None] * len(sources)  # classified from the path: already named
        else:
            raise ValueError(
                f"classify_dataset needs a 'path' or a 'bytes' column, got {sorted(batch)}"
            )
        with warnings.catch_warnings():
            # As in `classify`: Pillow's warnings name no file; each record says what matters.
            warnings.filterwarnings("ignore", module=r"PIL\.")
            predictions = [
                _named(p, name)
                for p, name in zip(self.classifier.iter_predictions(sources), names, strict=True)
            ]
        return records_table(predictions, self.classifier.labels)
