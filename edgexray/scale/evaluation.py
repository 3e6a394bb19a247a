"""Archive-level accuracy/precision/recall/F1/confusion from records, when images sit in class
folders (`.../<label>/<file>`), accumulated batch by batch so an archive never sits in memory."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from edgexray.metrics import Metrics, confusion_matrix, metrics_from_confusion

if TYPE_CHECKING:
    from ray.data import Dataset


class FolderConfusion:
    """The confusion matrix of records whose parent folder names one of `labels` (the true class).
    Records elsewhere, and error records, are counted apart (`unlabelled`, `errors`)."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self._index = {label: i for i, label in enumerate(labels)}
        self.confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
        self.unlabelled = 0
        self.errors = 0

    def add(self, records: pa.Table) -> None:
        """Count a batch of records (edgexray.scale.record_schema)."""
        truth: list[int] = []
        predicted: list[int] = []
        for path, label, error in zip(
            records.column("path").to_pylist(),
            records.column("label").to_pylist(),
            records.column("error").to_pylist(),
            strict=True,
        ):
            if error is not None:
                self.errors += 1
                continue
            true_class = self._index.get(PurePath(path).parent.name)
            if true_class is None:
                self.unlabelled += 1
                continue
            truth.append(true_class)
            predicted.append(self._index[label])
        self.confusion += confusion_matrix(
            np.array(truth, dtype=np.int64), np.array(predicted, dtype=np.int64), len(self.labels)
        )

    def metrics(self) -> Metrics | None:
        """The metrics over the records in class folders; None when there were none."""
        if not self.confusion.any():
            return None
        return metrics_from_confusion(self.confusion, self.labels)


def archive_metrics(records: Dataset, labels: tuple[str, ...]) -> FolderConfusion:
    """Run `records` (classify_dataset's output) and count them into a FolderConfusion."""
    tally = FolderConfusion(labels)
    for batch in records.iter_batches(batch_size=None, batch_format="pyarrow"):
        tally.add(batch)
    return tally
