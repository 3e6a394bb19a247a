"""Tiny synthetic image folders and briefly trained tiny models shared by the export tests.

Classes differ by where a bright blob sits (left, none, right), so a small CNN separates them in a
few epochs and the exported variants can be held to a real agreement figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CLASSES = ("COVID", "NORMAL", "PNEUMONIA")
_BLOB_COLUMN = {"COVID": 10, "NORMAL": None, "PNEUMONIA": 30, "FAINT": 30}
# FAINT: PNEUMONIA's blob at half the brightness, for three classes a pooled model can tell apart
# (COVID and PNEUMONIA differ only by where the blob is, which global pooling mostly loses).
_BLOB_BRIGHTNESS = {"FAINT": 60.0}


def draw(class_name: str, rng: np.random.Generator, size: int = 40) -> np.ndarray:
    """uint8 (size, size) image: noisy background, plus a blob whose position encodes the class."""
    yy, xx = np.mgrid[0:size, 0:size]
    image = rng.normal(90, 25, (size, size))
    column = _BLOB_COLUMN.get(class_name)  # other class names: no blob
    if column is not None:
        row = rng.uniform(12, 28)
        col = column + rng.uniform(-3, 3)
        brightness = _BLOB_BRIGHTNESS.get(class_name, 120.0)
        image += brightness * np.exp(-((yy - row) ** 2 + (xx - col) ** 2) / (2 * 5.0**2))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_folder(root: Path, classes: tuple[str, ...], per_class: int, seed: int = 0) -> Path:
    """root/<class>/<i>.png for each class; returns root."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(draw(name, rng)).save(root / name / f"{i:03d}.png")
    return root


def training_arrays(
    classes: tuple[str, ...], per_class: int, channels: int, seed: int = 1, side: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Float (N, side, side, channels) images in [0, 1] and integer labels, resized like the
    runtime."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for index, name in enumerate(classes):
        for _ in range(per_class):
            picture = Image.fromarray(draw(name, rng)).resize(
                (side, side), Image.Resampling.BILINEAR
            )
            array = np.asarray(picture, dtype=np.float32) / 255.0
            images.append(np.repeat(array[..., None], channels, axis=-1))
            labels.append(index)
    return np.stack(images), np.array(labels)


def fit_briefly(
    model: Any,
    classes: tuple[str, ...],
    channels: int,
    loss: object,
    scale: float = 1.0,
    side: int = 32,
    epochs: int = 12,
) -> None:
    """A few epochs on training_arrays(classes, 48 per class); BatchNorm momentum is lowered so its
    statistics settle in so few steps."""
    import keras

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.5
    x, y = training_arrays(classes, 48, channels, side=side)
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss=loss)
    model.fit(x * scale, y, epochs=epochs, batch_size=16, verbose=0)


def trained_binary_cnn(
    path: Path,
    classes: tuple[str, ...] = ("NORMAL", "PNEUMONIA"),
    epochs: int = 8,
    learning_rate: float = 0.003,
) -> Path:
    """A tiny binary CNN (32x32 gray, sigmoid head) briefly trained on `classes`, saved at `path`."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    x, y = training_arrays(classes, 48, 1)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    model.save(path)
    return path
