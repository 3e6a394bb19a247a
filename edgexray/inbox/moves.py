"""Move a finished file out of the inbox, atomically: a reader of the target folder sees the whole
file or none of it, and the inbox never loses a file that is not in the target yet."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from edgexray.atomic import temp_file_beside


def _free_name(target: Path) -> Path:
    """`target`, or `name.1.ext`, `name.2.ext`... when taken: a file never overwrites another."""
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
    return candidate


def move_atomically(source: Path, folder: Path, relative: str) -> Path:
    """Move `source` to `folder/relative` (sub-folders made as needed) and return where it went. On
    the same file system this is one rename; across file systems the file is copied to a temporary
    name, fsync'd and renamed into place before the source is removed."""
    target = _free_name(folder / relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)
        return target
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    fd, tmp = temp_file_beside(target)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    source.unlink()
    return target
