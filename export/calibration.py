"""Pick the images for int8 calibration and for the parity check from the user's calibration folder.

Images are found recursively. When they sit in class sub-folders (`root/<class>/...`), sampling is
stratified by class so every class is represented in both sets, and the class of each image is known
(so accuracy can be reported). Sampling is seeded, hence the same folder always gives the same sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgexray_export.errors import ExportError

from edgexray.preprocessing import Preprocessor, discover_images

MIN_IMAGES = 4
DEFAULT_SEED = 0


@dataclass(frozen=True)
class CalibrationImage:
    """One image: its path, path relative to the calibration root, and class folder (or None)."""

    path: Path
    relative: str
    class_name: str | None


@dataclass(frozen=True)
class CalibrationSplit:
    """Images for calibration and the held-out images for the parity check.

    overlapping: True when the folder was too small to hold images out, so both sets are the same.
    class_names: sorted class sub-folder names (empty when the images are not in class folders).
    """

    root: Path
    calibration: tuple[CalibrationImage, ...]
    parity: tuple[CalibrationImage, ...]
    class_names: tuple[str, ...]
    overlapping: bool


def _class_of(relative: Path) -> str | None:
    return relative.parts[0] if len(relative.parts) > 1 else None


def scan_images(root: Path) -> list[CalibrationImage]:
    """All images under `root`, sorted; ExportError when the folder is missing or holds none."""
    if not root.is_dir():
        raise ExportError(f"calibration folder not found: {root}")
    found = discover_images([root])
    if not found.files:
        raise ExportError(
            f"calibration folder {root} holds no images (png, jpg, bmp, tif, gif, webp, dcm); "
            "give a folder of representative X-rays, ideally one sub-folder per class"
        )
    images = []
    for path in found.files:
        relative = path.relative_to(root)
        images.append(CalibrationImage(path, relative.as_posix(), _class_of(relative)))
    return images


def _quota(groups: dict[str | None, list[CalibrationImage]], total: int) -> dict[str | None, int]:
    """Images per class, proportional to class size, at least one each, summing to <= total."""
    available = sum(len(v) for v in groups.values())
    if total >= available:
        return {key: len(v) for key, v in groups.items()}
    quota = {key: max(1, math.floor(total * len(v) / available)) for key, v in groups.items()}
    # Hand out what flooring left over to the largest classes first, deterministically.
    for key in sorted(groups, key=lambda k: (-len(groups[k]), str(k))):
        if sum(quota.values()) >= total:
            break
        if quota[key] < len(groups[key]):
            quota[key] += 1
    return quota


def split_images(
    root: str | Path,
    sample_size: int,
    *,
    parity_fraction: float = 0.5,
    seed: int = DEFAULT_SEED,
) -> CalibrationSplit:
    """Sample up to `sample_size` images from `root`, stratified by class folder, and split them.

    parity_fraction of each class goes to the parity set, the rest to calibration. A folder with
    fewer than 2 * MIN_IMAGES sampled images is used whole for both (recorded as overlapping).
    """
    if sample_size < MIN_IMAGES:
        raise ExportError(f"calibration size must be at least {MIN_IMAGES}, got {sample_size}")
    if not 0.0 < parity_fraction < 1.0:
        raise ExportError(f"parity fraction must be between 0 and 1, got {parity_fraction}")
    root = Path(root)
    images = scan_images(root)
    if len(images) < MIN_IMAGES:
        raise ExportError(
            f"calibration folder {root} holds {len(images)} image(s); at least {MIN_IMAGES} are "
            "needed (a few hundred give a trustworthy int8 calibration and parity check)"
        )
    groups: dict[str | None, list[CalibrationImage]] = {}
    for image in images:
        groups.setdefault(image.class_name, []).append(image)
    rng = np.random.default_rng(seed)
    calibration: list[CalibrationImage] = []
    parity: list[CalibrationImage] = []
    quota = _quota(groups, sample_size)
    for key in sorted(groups, key=str):
        members = groups[key]
        chosen = [members[i] for i in rng.permutation(len(members))[: quota[key]]]
        held_out = round(len(chosen) * parity_fraction) if len(chosen) > 1 else 0
        parity.extend(chosen[:held_out])
        calibration.extend(chosen[held_out:])
    overlapping = len(calibration) + len(parity) < 2 * MIN_IMAGES or not parity
    if overlapping:
        calibration = calibration + parity
        parity = list(calibration)
    class_names = tuple(sorted(k for k in groups if k is not None))
    return CalibrationSplit(root, tuple(calibration), tuple(parity), class_names, overlapping)


def load_tensors(images: tuple[CalibrationImage, ...], pre: Preprocessor) -> np.ndarray:
    """Preprocessed float32 batch (N, H, W, C) for `images`; ExportError names an undecodable file."""
    from edgexray.errors import ImageError

    batch = np.empty((len(images), pre.height, pre.width, pre.channels), dtype=np.float32)
    for i, image in enumerate(images):
        try:
            batch[i] = pre(image.path)
        except ImageError as exc:
            raise ExportError(f"calibration image {image.relative} cannot be used: {exc}") from None
    return batch
