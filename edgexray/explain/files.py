"""Explanations on disk: per image an overlay PNG, the raw map (.npy) and a JSON record.

For an image `chest.png` explained into DIR:
  DIR/chest.overlay.png   the image with the heatmap and the outline of the strongest region
  DIR/chest.heatmap.npy   float32 (H, W) at the model's input size (numpy.load reads it)
  DIR/chest.json          the record: label, probabilities, explained label, method, peak, spread
  DIR/explanations.jsonl  one line per image of the run, also for images that failed (`error`) or
                          that the input checks refused (`rejected`): classify's record of them
Two images with the same name get -2, -3... in the order they are written.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from edgexray.atomic import write_text_atomically
from edgexray.explain.explainer import Explanation
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import display_name

INDEX = "explanations.jsonl"


class ExplanationFolder:
    """Writes explanations into one folder (created if missing); names never collide."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._taken: set[str] = set()
        self._index = (self.folder / INDEX).open("w", encoding="utf-8")

    def _stem(self, path: str | None) -> str:
        # Escaped as every output escapes names: the record names these files, in UTF-8.
        base = display_name(Path(path).stem) if path else "image"
        stem, n = base, 1
        while stem in self._taken:
            n += 1
            stem = f"{base}-{n}"
        self._taken.add(stem)
        return stem

    def _log(self, record: dict[str, Any]) -> dict[str, Any]:
        self._index.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._index.flush()
        return record

    def write(self, explanation: Explanation) -> dict[str, Any]:
        """Write the three files; returns the record (with the files' names) that went in the JSON."""
        stem = self._stem(explanation.prediction.path)
        overlay = self.folder / f"{stem}.overlay.png"
        heatmap = self.folder / f"{stem}.heatmap.npy"
        # The prediction's record (path escaped by Prediction.to_record), then the explanation's.
        record = {**explanation.to_record(), "overlay": overlay.name, "heatmap": heatmap.name}
        explanation.overlay.save(overlay, optimize=True)
        with heatmap.open("wb") as stream:
            np.save(stream, explanation.heatmap)
        text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        write_text_atomically(self.folder / f"{stem}.json", text)
        return self._log(record)

    def write_unexplained(self, prediction: Prediction) -> dict[str, Any]:
        """The record of an image that was not explained, an error or a refusal by the input checks
        (its classify record, `prediction.to_record()`): the index line, no other file."""
        return self._log(prediction.to_record())

    def close(self) -> None:
        self._index.close()

    def __enter__(self) -> ExplanationFolder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
