"""Image-folder data sets: find the files and labels, split them, and load them as the device would.

Two layouts are accepted, the ones the public chest X-ray sets use:

- root/{train,val,test}/<class>/*: splits as given ("val" and "test" are optional; a missing one is
  carved out of "train" with a seeded stratified split). Chest X-Ray Images (Pneumonia), Covid19-dataset.
- root/<class>/*: all three splits drawn from each class with a seeded stratified split.
  COVID-19 Radiography Database: where a class folder holds an `images/` folder, only that one is
  used (its sibling `masks/` holds lung masks, not X-rays).

Class names are the sorted folder names. Pixels are loaded with `edgexray.preprocessing`, the code the
runtime runs on the device, so the model trains on exactly what it will see.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from edgexray_export.errors import ExportError

from edgexray.preprocessing import Preprocessor, discover_images

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitConfig:
    """How to split a folder that is not already split.

    val_fraction/test_fraction: share of each class (0..1) put in validation/test. seed: the shuffle.
    """

    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        fractions = (self.val_fraction, self.test_fraction)
        if min(fractions) < 0 or sum(fractions) >= 1:
            raise ExportError(
                f"val and test fractions must be >= 0 and leave images for training, got {fractions}"
            )


@dataclass(frozen=True)
class Split:
    """Files of one split and their class indices (into FolderDataset.class_names)."""

    files: tuple[Path, ...] = ()
    labels: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.files)

    def counts(self, n_classes: int) -> list[int]:
        return np.bincount(np.asarray(self.labels, dtype=np.int64), minlength=n_classes).tolist()


@dataclass(frozen=True)
class FolderDataset:
    """A labelled image folder: class names (sorted folder names) and the train/val/test splits."""

    root: Path
    class_names: tuple[str, ...]
    splits: dict[str, Split] = field(default_factory=dict)
    split_config: SplitConfig = field(default_factory=lambda: SplitConfig())

    def describe(self) -> str:
        """One line per split: how many images of each class."""
        n = len(self.class_names)
        return "; ".join(
            f"{name} {len(split)} ("
            + ", ".join(f"{c} {k}" for c, k in zip(self.class_names, split.counts(n), strict=True))
            + ")"
            for name, split in self.splits.items()
        )


def _class_folders(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files, for a folder whose sub-folders are the classes."""
    found: dict[str, list[Path]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images_dir = sub / "images"
        source = images_dir if images_dir.is_dir() else sub
        found[sub.name] = discover_images([source]).files
    if len(found) < 2:
        names = ", ".join(found) or "none"
        raise ExportError(
            f"{folder}: found {len(found)} class folder(s) ({names}); need at least 2, "
            "one sub-folder of images per class"
        )
    empty = [name for name, files in found.items() if not files]
    if empty:
        raise ExportError(f"{folder}: class folder(s) {', '.join(empty)} hold no images")
    return found


def _stratified(
    by_class: dict[str, list[Path]], names: tuple[str, ...], fractions: tuple[float, ...], seed: int
) -> list[Split]:
    """Split every class by `fractions` (the rest goes first); each part gets >= 1 image per class."""
    rng = np.random.default_rng(seed)
    parts: list[list[tuple[Path, int]]] = [[] for _ in range(len(fractions) + 1)]
    for index, name in enumerate(names):
        files = sorted(by_class[name])
        wanted = [max(1, round(len(files) * f)) if f > 0 else 0 for f in fractions]
        if len(files) - sum(wanted) < 1:
            raise ExportError(
                f"class {name} has {len(files)} image(s), too few to split into train/val/test"
            )
        order = rng.permutation(len(files))
        start = len(files) - sum(wanted)
        parts[0].extend((files[i], index) for i in order[:start])
        for k, count in enumerate(wanted, start=1):
            parts[k].extend((files[i], index) for i in order[start : start + count])
            start += count
    return [
        Split(tuple(f for f, _ in sorted(part)), tuple(label for _, label in sorted(part)))
        for part in parts
    ]


def _labelled(by_class: dict[str, list[Path]], names: tuple[str, ...], where: Path) -> Split:
    unknown = sorted(set(by_class) - set(names))
    if unknown:
        raise ExportError(
            f"{where}: class folder(s) {', '.join(unknown)} are not in train ({', '.join(names)})"
        )
    pairs = sorted((f, names.index(name)) for name, files in by_class.items() for f in files)
    return Split(tuple(f for f, _ in pairs), tuple(label for _, label in pairs))


def _find_split_dirs(root: Path) -> dict[str, Path]:
    dirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    aliases = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
    return {
        split: dirs[alias] for split, names in aliases.items() for alias in names if alias in dirs
    }


def scan_folder(root: Path | str, config: SplitConfig | None = None) -> FolderDataset:
    """Find the classes and files under `root` and assign them to train/val/test.

    Raises ExportError (one line) for a missing root, fewer than two classes, an empty class, or a
    class too small to split.
    """
    config = config or SplitConfig()
    root = Path(root)
    if not root.is_dir():
        raise ExportError(f"{root}: data folder not found")
    split_dirs = _find_split_dirs(root)
    if "train" not in split_dirs:
        by_class = _class_folders(root)
        names = tuple(sorted(by_class))
        train, val, test = _stratified(
            by_class, names, (config.val_fraction, config.test_fraction), config.seed
        )
        return FolderDataset(root, names, {"train": train, "val": val, "test": test}, config)
    train_classes = _class_folders(split_dirs["train"])
    names = tuple(sorted(train_classes))
    given: dict[str, Split] = {
        split: _labelled(_class_folders(split_dirs[split]), names, split_dirs[split])
        for split in ("val", "test")
        if split in split_dirs
    }
    missing = tuple(s for s in ("val", "test") if s not in given)
    fractions = tuple(config.val_fraction if s == "val" else config.test_fraction for s in missing)
    train, *carved = _stratified(train_classes, names, fractions, config.seed)
    splits: dict[str, Split] = {"train": train}
    splits.update(given)
    splits.update(zip(missing, carved, strict=True))
    return FolderDataset(root, names, {s: splits[s] for s in SPLITS}, config)


def load_pixels(
    files: tuple[Path, ...] | list[Path], preprocessor: Preprocessor, workers: int = 2
) -> np.ndarray:
    """Decode and resize `files` as the runtime does: uint8 array (N, H, W, C), in file order.

    Normalization is left to `preprocessor.normalize_pixels`, per batch, to keep memory at 1 byte
    per pixel. Raises edgexray.errors.ImageError naming the first file that cannot be decoded.
    """
    out = np.empty(
        (len(files), preprocessor.height, preprocessor.width, preprocessor.channels), np.uint8
    )
    # Pillow releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, pixels in enumerate(pool.map(preprocessor.pixels, files)):
            out[i] = pixels
    return out
