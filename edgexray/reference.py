"""The full (Keras) model's probabilities on the parity images, saved beside the exported variants.

With this file and the images a device without TensorFlow can re-check a variant later: it finds
each image by relative path, confirms the bytes by sha256, runs the variant, and compares with
edgexray.parity.measure_parity. Written as `<name>.reference.json`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgexray.atomic import write_text_atomically
from edgexray.errors import ImageError, ModelError

REFERENCE_VERSION = 1


def hash_file(digest: Any, path: Path) -> None:
    """Feed a file's bytes into `digest` (a hashlib object) in 1 MiB blocks, never all at once."""
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    hash_file(digest, path)
    return digest.hexdigest()


def reference_path(folder: Path, name: str) -> Path:
    return Path(folder) / f"{name}.reference.json"


@dataclass(frozen=True)
class ReferenceImage:
    """One parity image: path relative to the calibration folder, sha256 of its bytes, and its
    class folder name when known."""

    path: str
    sha256: str
    true_label: str | None = None


@dataclass(frozen=True)
class Reference:
    """Keras probabilities (N, len(labels)) for `images`, in the same order.

    source_sha256: hash of the Keras model they came from.
    """

    labels: tuple[str, ...]
    images: tuple[ReferenceImage, ...]
    probabilities: np.ndarray
    source_sha256: str | None = None

    def __post_init__(self) -> None:
        shape = np.shape(self.probabilities)
        if shape != (len(self.images), len(self.labels)):
            raise ValueError(
                f"reference probabilities have shape {shape}, expected "
                f"({len(self.images)}, {len(self.labels)})"
            )

    def true_label_indices(self) -> np.ndarray | None:
        """Class index per image when every image's class is one of the labels, else None."""
        index = {label: i for i, label in enumerate(self.labels)}
        if not all(image.true_label in index for image in self.images):
            return None
        return np.array([index[str(image.true_label)] for image in self.images], dtype=np.int64)

    def image_paths(self, root: Path) -> list[Path]:
        """The images under `root`, each checked against its recorded sha256 (ImageError if not)."""
        paths = []
        for image in self.images:
            path = Path(root) / image.path
            if not path.is_file():
                raise ImageError(f"parity image {image.path} not found under {root}")
            if file_sha256(path) != image.sha256:
                raise ImageError(
                    f"parity image {path} differs from the one used at export (sha256)"
                )
            paths.append(path)
        return paths

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REFERENCE_VERSION,
            "source_sha256": self.source_sha256,
            "labels": list(self.labels),
            "images": [
                {
                    "path": image.path,
                    "sha256": image.sha256,
                    "true_label": image.true_label,
                    "probabilities": [float(p) for p in row],
                }
                for image, row in zip(self.images, np.asarray(self.probabilities), strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        if not isinstance(data, dict) or data.get("version") != REFERENCE_VERSION:
            raise ModelError(f"unsupported parity reference (expected version {REFERENCE_VERSION})")
        try:
            images = tuple(
                ReferenceImage(item["path"], item["sha256"], item.get("true_label"))
                for item in data["images"]
            )
            probabilities = np.array(
                [item["probabilities"] for item in data["images"]], dtype=np.float64
            ).reshape(len(images), len(data["labels"]))
            return cls(tuple(data["labels"]), images, probabilities, data.get("source_sha256"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed parity reference: {exc}") from None


def write_reference(path: Path, reference: Reference) -> Path:
    """Write `reference` as JSON to `path`; returns the path."""
    path = Path(path)
    write_text_atomically(path, json.dumps(reference.to_dict(), indent=1) + "\n")
    return path


def read_reference(path: Path) -> Reference:
    """Read a `<name>.reference.json`; ModelError if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read parity reference {path}: {exc}") from None
    return Reference.from_dict(data)
