"""The Python API: load a model file once, classify images with it.

    clf = edgexray.Classifier("model.tflite")
    result = clf.predict("chest.png")
    print(result.label, result.confidence)

Thread-safety: one Classifier may be shared by threads. Decoding and preprocessing run in the calling
thread; the engine call is serialized by a lock, because LiteRT interpreters are not thread-safe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides, resolve_card
from edgexray.engines import Engine, EngineOptions, open_engine
from edgexray.errors import EdgexrayError, ImageError
from edgexray.modelfile import read_card
from edgexray.postprocess import decide, to_probabilities
from edgexray.prediction import Prediction
from edgexray.preprocessing import DecodeLimits, Preprocessor
from edgexray.preprocessing.decode import ImageInput


@dataclass(frozen=True)
class ClassifierOptions:
    """threads: engine threads (None = all cores). engine: force an engine by name (None = by file
    suffix). batch_size: images per engine call in predict_batch. max_pixels: refuse larger images."""

    threads: int | None = None
    engine: str | None = None
    batch_size: int = 8
    max_pixels: int = DecodeLimits().max_pixels

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        EngineOptions(self.threads)  # validates threads
        DecodeLimits(self.max_pixels)


def _name(source: object) -> str | None:
    return os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else None


class Classifier:
    """A model file and everything needed to run it: card, engine, preprocessing."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        options: ClassifierOptions | None = None,
        overrides: CardOverrides | None = None,
    ) -> None:
        self.path = Path(model)
        self.options = options or ClassifierOptions()
        embedded = read_card(self.path)
        self.engine: Engine = open_engine(
            self.path, EngineOptions(self.options.threads), self.options.engine
        )
        self.card: ModelCard = resolve_card(self.path, embedded, self.engine, overrides)
        self.preprocessor = Preprocessor.from_card(self.card, DecodeLimits(self.options.max_pixels))
        self._lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    # Core -----------------------------------------------------------------------------------------

    def predict_tensor(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 (N, H, W, C) -> probabilities (N, len(labels)), one column per label."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        expected = (self.card.input_height, self.card.input_width, self.card.input_channels)
        if batch.shape[1:] != expected:
            raise ValueError(
                f"expected input (N, {expected[0]}, {expected[1]}, {expected[2]}), got {batch.shape}"
            )
        with self._lock:
            raw = self.engine.run(batch)
        return to_probabilities(raw, self.card)

    def _predictions(self, names: list[str | None], probabilities: np.ndarray) -> list[Prediction]:
        chosen = decide(probabilities, self.card)
        return [
            Prediction(
                path=name,
                label=self.card.labels[index],
                confidence=float(row[index]),
                probabilities={
                    label: float(p) for label, p in zip(self.card.labels, row, strict=True)
                },
            )
            for name, row, index in zip(names, probabilities, chosen, strict=True)
        ]

    # Public API -----------------------------------------------------------------------------------

    def predict(self, source: ImageInput) -> Prediction:
        """Classify one image (path, PIL image or uint8/uint16 array). Raises ImageError if it cannot
        be decoded."""
        x = self.preprocessor(source)
        return self._predictions([_name(source)], self.predict_tensor(x[None]))[0]

    def iter_predictions(
        self, sources: Iterable[ImageInput], batch_size: int | None = None
    ) -> Iterator[Prediction]:
        """Classify images in batches, yielding one Prediction per source, in order, as soon as its
        batch is done. An image that cannot be decoded yields a Prediction with `error` set; the
        others are unaffected. Memory holds one batch at a time."""
        size = batch_size or self.options.batch_size
        pending: list[tuple[str | None, np.ndarray | None, str | None]] = []
        for source in sources:
            try:
                pending.append((_name(source), self.preprocessor(source), None))
            except ImageError as exc:
                pending.append((_name(source), None, str(exc)))
            if sum(1 for _, x, _ in pending if x is not None) >= size:
                yield from self._flush(pending)
                pending = []
        yield from self._flush(pending)

    def _flush(
        self, pending: list[tuple[str | None, np.ndarray | None, str | None]]
    ) -> list[Prediction]:
        good = [(name, x) for name, x, _ in pending if x is not None]
        results: dict[int, Prediction] = {}
        if good:
            try:
                probabilities = self.predict_tensor(np.stack([x for _, x in good]))
                done = iter(self._predictions([name for name, _ in good], probabilities))
            except EdgexrayError as exc:  # an engine failure fails this batch, not the run
                done = iter(Prediction(path=name, error=str(exc)) for name, _ in good)
            for i, (_, x, _) in enumerate(pending):
                if x is not None:
                    results[i] = next(done)
        return [
            results[i] if i in results else Prediction(path=name, error=error)
            for i, (name, _, error) in enumerate(pending)
        ]

    def predict_batch(
        self, sources: Iterable[ImageInput], batch_size: int | None = None
    ) -> list[Prediction]:
        """Like iter_predictions, as a list."""
        return list(self.iter_predictions(sources, batch_size))

    # Lifetime -------------------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Classifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Classifier({str(self.path)!r}, variant={self.card.variant!r}, engine={self.engine.name!r})"
