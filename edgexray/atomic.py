"""Write a file so that readers see the old content or the complete new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def temp_file_beside(path: Path) -> tuple[int, Path]:
    """An open temporary file in `path`'s folder (same file system, so os.replace is atomic), with
    the permissions a normally created file would get rather than mkstemp's private 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, Path(tmp)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
