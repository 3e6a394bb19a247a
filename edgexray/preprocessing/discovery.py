"""Find the image files to classify among the paths a user gives."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.preprocessing.dicom.detect import has_dicom_magic, has_dicom_name

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"})


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS or has_dicom_name(path)


def is_image_file(path: Path) -> bool:
    """An image by its name (IMAGE_EXTENSIONS, .dcm, .dicom), or a file without an extension that
    carries the DICOM magic (PACS exports often have no extension, or are named by their UID, whose
    last part looks like a numeric extension; reads 132 bytes at most)."""
    if is_image_name(path):
        return True
    unnamed = not path.suffix or path.suffix[1:].isdigit()
    return unnamed and path.is_file() and has_dicom_magic(path)


@dataclass
class Discovery:
    """Image files found (sorted, deterministic) and the given paths that yielded none, with why."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def _walk(folder: Path, problems: list[tuple[Path, str]]) -> list[Path]:
    """All image files under `folder`, following symlinked folders but never around a loop. Folders
    that cannot be listed (permissions, removed meanwhile) are added to `problems`."""
    found: list[Path] = []
    seen: set[str] = set()

    def unlisted(error: OSError) -> None:
        problems.append((Path(error.filename), f"cannot list folder: {error.strerror or error}"))

    for root, dirs, files in os.walk(folder, onerror=unlisted, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        found.extend(path for name in files if is_image_file(path := Path(root, name)))
    return sorted(found)


def discover_images(paths: list[Path] | tuple[Path, ...]) -> Discovery:
    """Files given by name are taken whatever their extension (a wrong one fails at decoding, with a
    clear error); folders are searched recursively for IMAGE_EXTENSIONS and DICOM files (.dcm,
    .dicom, case-insensitively, and extensionless files with the DICM magic)."""
    result = Discovery()
    for path in paths:
        if path.is_dir():
            unlisted: list[tuple[Path, str]] = []
            images = _walk(path, unlisted)
            result.files.extend(images)
            result.problems.extend(unlisted)
            if not images and not unlisted:
                result.problems.append((path, "no images found in folder"))
        elif path.exists() or path.is_symlink():
            result.files.append(path)
        else:
            result.problems.append((path, "no such file or folder"))
    return result
