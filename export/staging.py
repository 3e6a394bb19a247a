"""Variants are written under a temporary name and take their final name only once judged.

A variant's file, its card sidecar and any report of its conversion are written into a hidden
staging folder inside the output folder (same file system), named as they will be. Only after the
parity gate has passed the variant, or recorded it as degraded, are they renamed into the output
folder, sidecar and reports first and the model file last. Anything else (a variant below the
gate, a failed conversion, an exception nothing catches) removes the staging folder, so no file
under a final name ever lacks its parity figures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgexray.atomic import fsync_folder


@contextmanager
def staged(final: Path) -> Iterator[Path]:
    """The path to write the file meant for `final` at, in a staging folder beside it; the folder
    and whatever was not promoted out of it are removed on leaving the block, however it is left."""
    folder = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield folder / final.name
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def promote(path: Path, final: Path) -> None:
    """Rename the staged file `path` and every file staged beside it into `final`'s folder, under
    the names they were written with: the others first, `path` last, then sync the folder."""
    others = sorted(p for p in path.parent.iterdir() if p != path and p.is_file())
    for item in [*others, path]:
        os.replace(item, final.parent / item.name)
    fsync_folder(final.parent)
