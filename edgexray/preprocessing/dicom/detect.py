"""Tell a DICOM file (or file object) from other images without pydicom: by name, or by the first
132 bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
_MAGIC = b"DICM"
_PREAMBLE = 128
# A file without the 128-byte preamble starts with its first data element; in practice (PACS
# exports, old ACR-NEMA files) a little-endian tag of the file meta (0002) or identifying (0008)
# group. No image format Pillow reads starts with these bytes.
_BARE_STARTS = (b"\x02\x00", b"\x08\x00")


def has_dicom_name(path: object) -> bool:
    return isinstance(path, (str, os.PathLike)) and Path(path).suffix.lower() in DICOM_EXTENSIONS


def _head(source: str | os.PathLike[str] | BinaryIO) -> bytes:
    """The first 132 bytes (fewer for a shorter file). A file object is read and put back where it
    was; one that cannot seek back (a pipe) gives b"" and is not taken for DICOM."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as file:
                return file.read(_PREAMBLE + len(_MAGIC))
        except OSError:
            return b""
    try:
        if not source.seekable():
            return b""
        start = source.tell()
        head = source.read(_PREAMBLE + len(_MAGIC))
        source.seek(start)
    except (OSError, ValueError, AttributeError):
        return b""
    return head if isinstance(head, bytes) else b""


def has_dicom_magic(path: str | os.PathLike[str]) -> bool:
    """True when the file carries "DICM" at offset 128 (the DICOM file format). Reads 132 bytes at
    most; a file that cannot be read is not DICOM here (decoding it reports why)."""
    return _head(path)[_PREAMBLE:] == _MAGIC


def looks_like_dicom(source: str | os.PathLike[str] | BinaryIO) -> bool:
    """True for a `.dcm`/`.dicom` name, the DICM magic, or data starting with a bare data element
    (no preamble). Reads 132 bytes at most."""
    if has_dicom_name(source):
        return True
    head = _head(source)
    if head[_PREAMBLE:] == _MAGIC or head.startswith(_MAGIC):
        return True
    return len(head) >= 8 and head[:2] in _BARE_STARTS and head[3:4] == b"\x00"
