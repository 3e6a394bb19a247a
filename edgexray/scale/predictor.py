"""The callable class Ray Data runs in each actor: one Classifier per actor, a batch per call."""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.preprocessing.input_file import input_from_bytes
from edgexray.scale.records import records_table
from edgexray.scale.shipped_model import ShippedModel


def batch_sources(batch: dict[str, np.ndarray]) -> list[Any]:
    """The images of a Ray batch: the `bytes` column (as files read already, named and hashed by
    `path` when present, so records and errors name the file as classify does), else the `path`
    column (read by the worker; str, or bytes as os.fsencode gives them)."""
    if "bytes" in batch:
        if "path" in batch:
            return [
                input_from_bytes(bytes(b), str(p))
                for b, p in zip(batch["bytes"], batch["path"], strict=True)
            ]
        return [bytes(b) for b in batch["bytes"]]
    if "path" in batch:  # text, or the file system's bytes (any name, UTF-8 or not)
        return [os.fsdecode(p) if isinstance(p, bytes) else str(p) for p in batch["path"]]
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
        # The identity made once, on the driver (its signer too: the keys stay there); load()
        # checked that these are the bytes it names.
        self.identity = model.identity or self.classifier.identity

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        with warnings.catch_warnings():
            # As in `classify`: Pillow's warnings name no file; each record says what matters.
            warnings.filterwarnings("ignore", module=r"PIL\.")
            predictions = [
                dataclasses.replace(prediction, model=self.identity)
                for prediction in self.classifier.iter_predictions(batch_sources(batch))
            ]
        return records_table(predictions, self.classifier.labels)
