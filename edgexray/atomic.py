"""Write a file so that readers see the old content or the complete new one, never half of it, and
the new content survives a power cut once the write has returned (a kiosk is switched off at will).

Every report and model card edgexray writes goes through here. The steps: write a temporary file in
the target's folder (same file system, so the rename is atomic), fsync it, rename it over the
target, fsync the folder (so the rename itself is on disk). The temporary file is created with mode
0o666 and the kernel applies the process umask (and a folder's default ACL) the way it does for any
new file: no `os.umask` call, which would change the mask for every thread of the process.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import IO, Any

_NEW_FILE_MODE = 0o666  # what open(path, "w") asks for; the kernel applies the umask


def temp_file_beside(path: Path) -> tuple[int, Path]:
    """An open (write-only) temporary file in `path`'s folder, with the permissions `path` has if it
    exists, else those a normally created file gets (0o666 less the umask)."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _NEW_FILE_MODE)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        break
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        return fd, tmp
    os.fchmod(fd, stat.S_IMODE(existing.st_mode))
    return fd, tmp


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """A file being written atomically: write to `stream`, then `commit()` (fsync, rename, fsync
    the folder) or `discard()` (the target is left as it was)."""

    def __init__(self, path: Path, binary: bool = False) -> None:
        self.path = Path(path)
        fd, self._tmp = temp_file_beside(self.path)
        mode = "wb" if binary else "w"
        options: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
        self.stream: IO[Any] = os.fdopen(fd, mode, **options)

    def commit(self, sync_folder: bool = True) -> None:
        """Make the new content the file's. sync_folder=False leaves the folder's fsync to the
        caller (who renames several files into one folder and then syncs it once)."""
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise
        if sync_folder:
            fsync_folder(self.path.parent)

    def discard(self) -> None:
        self.stream.close()
        self._tmp.unlink(missing_ok=True)


def write_bytes_atomically(path: Path, data: bytes, sync_folder: bool = True) -> None:
    """Replace `path` with `data`, atomically and durably (see the module docstring; with
    sync_folder=False the rename is durable once the caller has fsync'd the folder)."""
    output = AtomicFile(path, binary=True)
    try:
        output.stream.write(data)
    except BaseException:
        output.discard()
        raise
    output.commit(sync_folder)


def write_text_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8, newlines as given), atomically and durably."""
    write_bytes_atomically(path, text.encode("utf-8"))


def write_figure_atomically(figure: Any, path: Path) -> None:
    """Save a matplotlib figure to `path` (format from the suffix), atomically and durably."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".") or None)
    write_bytes_atomically(path, buffer.getvalue())
