"""An input file read once: its bytes, their SHA-256, and a name that is safe in every output.

Every mode reads a file through `read_input`: it opens without blocking (a FIFO named `b.png` with no
writer would otherwise hang `open()` for ever), refuses what is not a regular file by the descriptor it
opened (no window between a check and the open), refuses a file over the byte limit before reading it,
and hashes the bytes as they are read. Decoding then works on these bytes, and every record, audit
line and journal entry takes the SHA-256 from here: the file is never read a second time.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

from edgexray.errors import ImageError

# Control characters (a newline is legal in a Linux file name) would split a one-line message.
_ESCAPE_CONTROL = {code: f"\\x{code:02x}" for code in (*range(32), 127)}


def display_name(path: str | os.PathLike[str]) -> str:
    """A file name as printable one-line UTF-8 text: bytes that are not valid UTF-8 and control
    characters are shown as \\xNN. The one escaping every output of edgexray uses."""
    return os.fsencode(path).decode("utf-8", "backslashreplace").translate(_ESCAPE_CONTROL)


@dataclass(frozen=True)
class InputFile:
    """path: the file as given (a str; bytes that are not UTF-8 as surrogates, as os.fsdecode
    gives). name: its display_name. data: the whole file. sha256: of `data`, hex."""

    path: str
    name: str
    data: bytes
    sha256: str


def input_from_bytes(data: bytes, path: str | os.PathLike[str]) -> InputFile:
    """The file `path` already read by someone else (a Ray row's `bytes` beside its `path`):
    named and hashed as read_input would name and hash it."""
    path = os.fsdecode(path)
    return InputFile(path, display_name(path), data, hashlib.sha256(data).hexdigest())


def read_input(path: str | os.PathLike[str], max_bytes: int) -> InputFile:
    """Read the regular file `path` once. ImageError with a one-line reason for a missing,
    unreadable, empty or oversized file, a folder, and anything that is not a regular file (a
    FIFO, socket or device), which is refused without blocking."""
    path = os.fsdecode(path)
    name = display_name(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{name}: is a folder, not an image")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{name}: not a regular file (a pipe, socket or device)")
        if info.st_size == 0:
            raise ImageError(f"{name}: empty file")
        if info.st_size > max_bytes:
            raise ImageError(
                f"{name}: refused, {info.st_size} bytes exceeds the limit of {max_bytes}"
            )
        try:
            # Sized by fstat: read(n) allocates n bytes up front, so asking for the limit would
            # cost 128 MiB per image. One byte more tells a file that grew since.
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(max_bytes + 1 - len(data))
        except OSError as exc:
            raise ImageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:  # grew after fstat
        raise ImageError(f"{name}: refused, more than {max_bytes} bytes")
    if not data:
        raise ImageError(f"{name}: empty file")
    return InputFile(path, name, data, hashlib.sha256(data).hexdigest())
