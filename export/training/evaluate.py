"""Evaluate a trained Keras model on an image folder, as the source projects reported it.

Accuracy, precision, recall and F1 per class and macro, and the confusion matrix (the arithmetic is
the runtime's `edgexray.metrics`, so `edgexray bench` computes the same figures on exported models).
A binary model decides with its threshold (from `.training.json`, or given). Written as JSON and a
confusion-matrix PNG.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.data.folders import SPLITS, FolderDataset, Split, load_pixels
from edgexray_export.errors import ExportError
from edgexray_export.keras_loading import load_model_safely
from edgexray_export.training.train import predict_probabilities, read_training_info

from edgexray.atomic import write_figure_atomically, write_text_atomically
from edgexray.metrics import Metrics, classification_metrics
from edgexray.preprocessing import Preprocessor


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics of one model on one split, the decision threshold used (binary) and the inputs.

    model, data: as recorded (see `recorded_path`), never an absolute path of the machine that ran it.
    """

    model: Path
    data: Path
    split: str
    metrics: Metrics
    threshold: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.model),
            "data": str(self.data),
            "split": self.split,
            "threshold": self.threshold,
            "seconds": round(self.seconds, 2),
        } | self.metrics.to_dict()

    def summary(self) -> str:
        """A few lines for the terminal: accuracy, macro figures, per-class F1."""
        m = self.metrics
        lines = [
            f"{self.split}: {m.count} images  accuracy {m.accuracy:.4f}  macro precision "
            f"{m.macro_precision:.4f}  recall {m.macro_recall:.4f}  F1 {m.macro_f1:.4f}"
        ]
        lines += [
            f"  {name:<12} precision {c.precision:.4f}  recall {c.recall:.4f}  F1 {c.f1:.4f}  "
            f"n {c.support}"
            for name, c in m.per_class.items()
        ]
        if self.threshold is not None:
            lines.append(f"  threshold {self.threshold:.4f} on P({m.labels[1]})")
        return "\n".join(lines)


def preprocessor_for(model: Any, info: dict[str, Any] | None) -> Preprocessor:
    """The preprocessing a model was trained with: from its `.training.json`, else from its input
    shape (grayscale models get x/255 like the seed CNN; RGB ones -1..1 like MobileNetV2)."""
    if info is not None:
        return Preprocessor(
            info["input_height"],
            info["input_width"],
            color_mode=info["color_mode"],
            normalize=info["normalize"],
            interpolation=info["interpolation"],
        )
    _, height, width, channels = model.input_shape
    if channels == 1:
        return Preprocessor(height, width, "grayscale", "unit")
    return Preprocessor(height, width, "rgb", "symmetric")


def _select(data: FolderDataset, split: str) -> Split:
    if split != "all":
        return data.splits[split]
    pairs = sorted(
        (f, label) for s in data.splits.values() for f, label in zip(s.files, s.labels, strict=True)
    )
    return Split(tuple(f for f, _ in pairs), tuple(label for _, label in pairs))


def decide(probabilities: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class index per row: P(labels[1]) >= threshold for binary models, argmax otherwise."""
    if threshold is not None and probabilities.shape[1] == 2:
        return (probabilities[:, 1] >= threshold).astype(np.int64)
    return probabilities.argmax(axis=1)


def recorded_path(path: Path, root: Path) -> Path:
    """`path` as a report records it: relative to `root` when it lies inside it, else its name alone,
    so a committed report never carries the absolute path of the machine that wrote it."""
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(path.name)


def evaluate_model(
    model_path: Path,
    data: FolderDataset,
    split: str = "test",
    threshold: float | None = None,
    workers: int = 2,
    data_root: Path | None = None,
    trust_model: bool = False,
) -> EvaluationReport:
    """Load `model_path` (.keras/.h5), classify the `split` of `data` ("all" for every image).

    threshold: binary decision threshold; default the one in `.training.json`, else 0.5.
    data_root: the report records `data.root` relative to it (default: the working directory);
    the model path is recorded relative to the working directory. The model is loaded as export
    loads it (edgexray_export.keras_loading.load_model_safely; trust_model as there).
    Raises ExportError when the model's labels differ from the data's class folders.
    """
    if split not in (*SPLITS, "all"):
        raise ExportError(f"split must be one of {', '.join(SPLITS)} or all, got {split!r}")
    info = read_training_info(model_path)
    model = load_model_safely(model_path, trust_model)
    labels = tuple(info["labels"]) if info else data.class_names
    if labels != data.class_names:
        raise ExportError(
            f"model labels {list(labels)} differ from the data's class folders "
            f"{list(data.class_names)}"
        )
    chosen = _select(data, split)
    if len(chosen) == 0:
        raise ExportError(f"{data.root}: the {split} split holds no images")
    pre = preprocessor_for(model, info)
    started = time.perf_counter()
    probabilities = predict_probabilities(model, load_pixels(chosen.files, pre, workers), pre)
    if len(labels) == 2 and threshold is None:
        threshold = (info or {}).get("threshold") or 0.5
    elif len(labels) != 2:
        threshold = None
    predicted = decide(probabilities, threshold)
    metrics = classification_metrics(np.asarray(chosen.labels), predicted, labels)
    return EvaluationReport(
        recorded_path(model_path, Path.cwd()),
        recorded_path(data.root, data_root or Path.cwd()),
        split,
        metrics,
        threshold,
        time.perf_counter() - started,
    )


def write_confusion_png(metrics: Metrics, path: Path, title: str = "") -> Path:
    """The confusion matrix as a PNG heat map with counts and row percentages."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server or in CI
    import matplotlib.pyplot as plt

    cm = metrics.confusion
    rows = np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = 1.6 + 1.1 * len(metrics.labels)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    ax.imshow(cm / rows, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(metrics.labels))
    ax.set_xticks(ticks, metrics.labels, rotation=30, ha="right")
    ax.set_yticks(ticks, metrics.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            share = cm[i, j] / rows[i, 0]
            colour = "white" if share > 0.5 else "black"
            ax.text(j, i, f"{cm[i, j]}\n{share:.0%}", ha="center", va="center", color=colour)
    ax.set_title(title or f"accuracy {metrics.accuracy:.3f}, macro F1 {metrics.macro_f1:.3f}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_figure_atomically(fig, path)
    plt.close(fig)
    return path


def write_report(report: EvaluationReport, out_stem: Path) -> tuple[Path, Path]:
    """Write `<out_stem>.json` and `<out_stem>.png`; returns both paths."""
    json_path = out_stem.with_name(out_stem.name + ".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
    png_path = write_confusion_png(report.metrics, out_stem.with_name(out_stem.name + ".png"))
    return json_path, png_path
