"""Training loops for the seed CNN and the fine-tuned model, seeded, with an epoch log.

Both read an image folder (`edgexray_export.data.folders`), decode it once with the runtime's
preprocessing into uint8 arrays, and feed normalized batches to Keras. The run writes:

- the model (`.keras`),
- `<model stem>.history.csv`: one row per epoch (loss, accuracy, val_loss, val_accuracy, phase, lr),
- `<model stem>.training.json`: labels, input size, preprocessing, data set counts, seed, epochs run,
  wall time and, for binary models, the decision threshold chosen on the validation set. The
  export step and `edgexray evaluate` read the preprocessing and labels from it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from edgexray_export.data.folders import FolderDataset, load_pixels
from edgexray_export.errors import ExportError
from edgexray_export.training.architectures import (
    BackboneWeights,
    FinetuneSpec,
    finetune_model,
    loss_for,
    seed_cnn,
)
from edgexray_export.training.feature_cache import cut_at
from edgexray_export.training.threshold import ThresholdRule, choose_threshold

from edgexray.atomic import write_text_atomically
from edgexray.card import Normalize
from edgexray.preprocessing import Preprocessor

SEED_CNN_SIZE = (256, 256)
# Zero-centred input: with x/255 (all positive) the seed CNN's GlobalAveragePooling features barely
# vary between images at initialisation and training sat at chance for many epochs on our data.
SEED_CNN_NORMALIZE: Normalize = "imagenet"


@dataclass(frozen=True)
class FitConfig:
    """One training phase: Adam at `learning_rate`, `batch_size` images per step, up to `epochs`,
    early stopping on val_loss after `patience` epochs without improvement (best weights restored)."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 3

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ExportError("epochs, batch size and patience must be at least 1")
        if not 0 < self.learning_rate < 1:
            raise ExportError(f"learning rate must be in (0, 1), got {self.learning_rate}")


@dataclass(frozen=True)
class RunConfig:
    """What every run shares: the seed, the decoding threads, the threshold rule for binary models."""

    seed: int = 0
    workers: int = 2
    threshold: ThresholdRule = field(default_factory=ThresholdRule)


@dataclass(frozen=True)
class FinetuneConfig:
    """Head-only phase, then (when fine_tune_layers > 0 and the backbone is pretrained) the top
    `fine_tune_layers` backbone layers are unfrozen and trained at `fine_tune.learning_rate`.

    Without pretrained weights there is nothing to keep, so the whole network trains in one phase.
    """

    spec: FinetuneSpec = field(default_factory=FinetuneSpec)
    weights: BackboneWeights = field(default_factory=lambda: BackboneWeights("imagenet"))
    head: FitConfig = field(default_factory=FitConfig)
    fine_tune: FitConfig = field(default_factory=lambda: FitConfig(epochs=10, learning_rate=1e-5))
    fine_tune_layers: int = 30

    def __post_init__(self) -> None:
        if self.fine_tune_layers < 0:
            raise ExportError("fine_tune_layers must be >= 0")


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: files written, epochs run, wall time in seconds, threshold (binary)."""

    model_path: Path
    history_path: Path
    info_path: Path
    epochs_run: int
    seconds: float
    threshold: float | None
    info: dict[str, Any]


def sidecar_paths(model_path: Path) -> tuple[Path, Path]:
    """(history CSV, training JSON) written next to `model_path`."""
    stem = model_path.with_suffix("")
    return stem.with_name(stem.name + ".history.csv"), stem.with_name(stem.name + ".training.json")


def read_training_info(model_path: Path) -> dict[str, Any] | None:
    """The `.training.json` written next to a model by `train`, or None when there is none."""
    path = sidecar_paths(Path(model_path))[1]
    return json.loads(path.read_text()) if path.is_file() else None


Transform = Callable[[np.ndarray], np.ndarray]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _batches(
    x: np.ndarray, y: np.ndarray, transform: Transform, batch: int, seed: int | None
) -> Any:
    """A keras PyDataset: batches of `transform(x)` (the normalized pixels of uint8 images, or
    cached features as they are), reshuffled each epoch if seeded."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x)) if seed is not None else np.arange(len(x))

        def __len__(self) -> int:
            return (len(x) + batch - 1) // batch

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            take = self.order[i * batch : (i + 1) * batch]
            return transform(x[take]), y[take]

        def on_epoch_end(self) -> None:
            if seed is not None:
                self.order = self.rng.permutation(len(x))

    return Batches()


def _epoch_logger(stream: TextIO, phase: str, total: int) -> Any:
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            figures = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k != "learning_rate")
            seconds = time.perf_counter() - self.start
            print(f"[{phase}] epoch {epoch + 1}/{total}  {figures}  {seconds:.1f}s", file=stream)
            stream.flush()

    return EpochLog()


@dataclass
class _Arrays:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def _load(data: FolderDataset, pre: Preprocessor, workers: int, log: TextIO) -> _Arrays:
    for name in ("train", "val"):
        if len(data.splits[name]) == 0:
            raise ExportError(f"{data.root}: the {name} split is empty")
    print(f"data: {data.describe()}", file=log)
    start = time.perf_counter()
    train, val = data.splits["train"], data.splits["val"]
    arrays = _Arrays(
        load_pixels(train.files, pre, workers),
        np.asarray(train.labels, dtype=np.int64),
        load_pixels(val.files, pre, workers),
        np.asarray(val.labels, dtype=np.int64),
    )
    print(f"decoded {len(train) + len(val)} images in {time.perf_counter() - start:.1f}s", file=log)
    return arrays


def _fit(
    model: Any,
    arrays: _Arrays,
    transform: Transform,
    fit: FitConfig,
    run: RunConfig,
    phase: str,
    log: TextIO,
) -> list[dict[str, Any]]:
    """Compile and fit one phase; returns one dict per epoch run (with phase and learning rate)."""
    import keras

    units = int(model.output_shape[-1])
    model.compile(
        optimizer=keras.optimizers.Adam(fit.learning_rate),
        loss=loss_for(2 if units == 1 else units),
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=fit.patience, restore_best_weights=True
    )
    history = model.fit(
        _batches(arrays.x_train, arrays.y_train, transform, fit.batch_size, run.seed),
        validation_data=_batches(arrays.x_val, arrays.y_val, transform, fit.batch_size, None),
        epochs=fit.epochs,
        callbacks=[stop, _epoch_logger(log, phase, fit.epochs)],
        verbose=0,
    )
    epochs = len(history.history.get("loss", []))
    return [
        {"phase": phase, "epoch": i + 1, "learning_rate": fit.learning_rate}
        | {k: float(v[i]) for k, v in history.history.items() if k != "learning_rate"}
        for i in range(epochs)
    ]


def predict_probabilities(
    model: Any, x: np.ndarray, pre: Preprocessor, batch: int = 32
) -> np.ndarray:
    """Per-class probabilities (N, n_classes) of uint8 images `x`; a sigmoid head gives [1-p, p]."""
    outputs = [
        np.asarray(model(pre.normalize_pixels(x[i : i + batch]), training=False))
        for i in range(0, len(x), batch)
    ]
    raw = np.concatenate(outputs) if outputs else np.zeros((0, 1), np.float32)
    return np.concatenate([1.0 - raw, raw], axis=1) if raw.shape[1] == 1 else raw


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    first = ("phase", "epoch")
    keys = [*first, *sorted({k for row in rows for k in row} - set(first))]
    handle = io.StringIO(newline="")
    writer = csv.DictWriter(handle, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(path, handle.getvalue())


def _finish(
    model: Any,
    out: Path,
    data: FolderDataset,
    pre: Preprocessor,
    arrays: _Arrays,
    rows: list[dict[str, Any]],
    run: RunConfig,
    started: float,
    extra: dict[str, Any],
) -> TrainResult:
    """Save the model and its sidecars; choose the binary threshold on the validation split."""
    import keras

    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    history_path, info_path = sidecar_paths(out)
    _write_history(history_path, rows)
    threshold = None
    binary = len(data.class_names) == 2
    if binary:
        probabilities = predict_probabilities(model, arrays.x_val, pre)[:, 1]
        threshold = choose_threshold(arrays.y_val, probabilities, run.threshold).threshold
    seconds = time.perf_counter() - started
    info = {
        "labels": list(data.class_names),
        "task": "binary" if binary else "multiclass",
        "input_height": pre.height,
        "input_width": pre.width,
        "input_channels": pre.channels,
        "color_mode": pre.color_mode,
        "normalize": pre.normalize,
        "interpolation": pre.interpolation,
        "threshold": threshold,
        "threshold_rule": asdict(run.threshold),
        "seed": run.seed,
        "data": str(data.root),
        "split": asdict(data.split_config),
        "split_counts": {
            name: dict(zip(data.class_names, split.counts(len(data.class_names)), strict=True))
            for name, split in data.splits.items()
        },
        "epochs_run": len(rows),
        "train_seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
        "keras_version": keras.__version__,
    } | extra
    write_text_atomically(info_path, json.dumps(info, indent=2) + "\n")
    return TrainResult(out, history_path, info_path, len(rows), seconds, threshold, info)


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def train_cnn(
    data: FolderDataset,
    out: Path,
    fit: FitConfig | None = None,
    run: RunConfig | None = None,
    input_size: tuple[int, int] = SEED_CNN_SIZE,
    normalize: Normalize = SEED_CNN_NORMALIZE,
    log: TextIO | None = None,
) -> TrainResult:
    """Train the seed CNN (grayscale) on `data` and save it to `out` (.keras).

    input_size: (height, width) in pixels; the seed model is 256x256, tests use less.
    normalize: pixel scaling (edgexray.card.NORMALIZATIONS), recorded for the export step.
    log: progress lines (default: sys.stderr as it is when called, not when this was imported).
    """
    log = log or sys.stderr
    fit, run = fit or FitConfig(), run or RunConfig()
    started = time.perf_counter()
    _seed_everything(run.seed)
    pre = Preprocessor(*input_size, color_mode="grayscale", normalize=normalize)
    arrays = _load(data, pre, run.workers, log)
    model = seed_cnn(len(data.class_names), (*input_size, 1))
    rows = _fit(model, arrays, pre.normalize_pixels, fit, run, "train", log)
    extra = {"architecture": "seed_cnn", "fit": asdict(fit)}
    return _finish(model, out, data, pre, arrays, rows, run, started, extra)


def _unfreeze_top(backbone: Any, count: int) -> None:
    """Make the top `count` backbone layers trainable; BatchNorm stays frozen (Keras' advice)."""
    import keras

    backbone.trainable = True
    for layer in backbone.layers[: max(0, len(backbone.layers) - count)]:
        layer.trainable = False
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def _fit_pretrained(
    model: Any,
    arrays: _Arrays,
    pre: Preprocessor,
    config: FinetuneConfig,
    run: RunConfig,
    log: TextIO,
) -> tuple[list[dict[str, Any]], bool]:
    """Head phase on the frozen backbone, then the top layers at the lower rate.

    Where the backbone can be cut below its top `fine_tune_layers` layers, the frozen part runs
    once per image and both phases train on its cached output (`feature_cache`). Returns the
    history rows and whether the cache was used.
    """
    backbone = model.get_layer("backbone")
    backbone.trainable = False
    count = config.fine_tune_layers
    first = backbone.layers[max(1, len(backbone.layers) - count)].name if count > 0 else None
    cut = cut_at(model, first) if first else None
    if cut is None:
        rows = _fit(model, arrays, pre.normalize_pixels, config.head, run, "head", log)
        if count > 0:
            _unfreeze_top(backbone, count)
            rows += _fit(
                model, arrays, pre.normalize_pixels, config.fine_tune, run, "fine-tune", log
            )
        return rows, False
    started = time.perf_counter()
    at_cut = _Arrays(
        cut.features(arrays.x_train, pre),
        arrays.y_train,
        cut.features(arrays.x_val, pre),
        arrays.y_val,
    )
    pooled = _Arrays(cut.pool(at_cut.x_train), arrays.y_train, cut.pool(at_cut.x_val), arrays.y_val)
    seconds = time.perf_counter() - started
    print(f"cached the frozen layers' output below {first} in {seconds:.1f}s", file=log)
    rows = _fit(cut.head, pooled, _identity, config.head, run, "head", log)
    _unfreeze_top(backbone, count)
    rows += _fit(cut.upper, at_cut, _identity, config.fine_tune, run, "fine-tune", log)
    return rows, True


def train_finetune(
    data: FolderDataset,
    out: Path,
    config: FinetuneConfig | None = None,
    run: RunConfig | None = None,
    log: TextIO | None = None,
) -> TrainResult:
    """Train the transfer model (RGB, pixels x/127.5-1) on `data`, save it to `out`.

    Pretrained: head-only phase, then the top `config.fine_tune_layers` at the lower rate.
    From scratch (weights none): the whole network in one phase. log: as for train_cnn.
    """
    log = log or sys.stderr
    config, run = config or FinetuneConfig(), run or RunConfig()
    started = time.perf_counter()
    _seed_everything(run.seed)
    spec = config.spec
    pre = Preprocessor(spec.height, spec.width, color_mode="rgb", normalize="symmetric")
    arrays = _load(data, pre, run.workers, log)
    model = finetune_model(len(data.class_names), spec, config.weights)
    cached = False
    if config.weights.pretrained:
        rows, cached = _fit_pretrained(model, arrays, pre, config, run, log)
    else:
        rows = _fit(model, arrays, pre.normalize_pixels, config.head, run, "scratch", log)
    extra = {
        "architecture": spec.backbone,
        "alpha": spec.alpha if spec.backbone == "mobilenetv2" else None,
        "backbone_weights": config.weights.source,
        "pretrained": config.weights.pretrained,
        "cached_features": cached,
        "fit": asdict(config.head),
        "fine_tune": asdict(config.fine_tune) if config.weights.pretrained else None,
        "fine_tune_layers": config.fine_tune_layers if config.weights.pretrained else 0,
    }
    return _finish(model, out, data, pre, arrays, rows, run, started, extra)
