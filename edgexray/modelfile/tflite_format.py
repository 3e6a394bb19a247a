"""TFLite: the container is a small zip archive appended to the flatbuffer.

The interpreter reads the flatbuffer from the start of the file and ignores trailing bytes; zip readers
find an archive from the end of a file. So one file is both a valid .tflite and a readable archive
(tests/runtime/test_modelfile.py loads such a file in LiteRT). Each entry is one member,
`edgexray_<name>.json`, but for the associated files of TFLite Metadata (PLAIN_MEMBERS: the entry
`labels` is `labels.txt`, which MediaPipe reads from this archive); the archive comment is the fixed marker `edgexray-container/1`, so a file
written by this version ends with the marker.

A damaged container is told from no container: when no archive with a card member can be read, a
file that still holds the card member's name (in a local header, which comes first in the archive,
so cutting the end of the file leaves it) or ends with the marker had a card, and is refused. Files
written by edgexray 0.1 (the same archive, no marker) read as before.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping

from edgexray.modelfile.container import (
    MAX_COMPRESSION_RATIO,
    DamagedContainer,
    Split,
    check_entry_sizes,
)
from edgexray.modelfile.tflite_extent import check_whole

MEMBER_PREFIX, MEMBER_SUFFIX = "edgexray_", ".json"
CARD_MEMBER = "edgexray_card.json"
MARKER = b"edgexray-container/1"
FILE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of every .tflite


# Entries stored under a plain member name rather than `edgexray_<name>.json`: the associated files
# that standard TFLite Metadata names (MediaPipe reads `labels.txt` from the same archive).
PLAIN_MEMBERS = {"labels": "labels.txt"}


def _member_name(entry: str) -> str:
    return PLAIN_MEMBERS.get(entry, f"{MEMBER_PREFIX}{entry}{MEMBER_SUFFIX}")


def _entry_name(member: str) -> str | None:
    for entry, plain in PLAIN_MEMBERS.items():
        if member == plain:
            return entry
    if member.startswith(MEMBER_PREFIX) and member.endswith(MEMBER_SUFFIX):
        return member[len(MEMBER_PREFIX) : -len(MEMBER_SUFFIX)] or None
    return None


def _had_container(data: bytes) -> bool:
    return data.endswith(MARKER) or data.rfind(CARD_MEMBER.encode()) >= 0


_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Below this, repetitive honest text may shrink far (a card of repeated values); the size limits bound
# the memory anyway. Above it, a ratio only a decompression bomb has is refused before inflating.
RATIO_CHECKED_FROM = 256 * 1024


def _check_declared(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse, before inflating anything, members whose declared sizes pass the container limits
    or whose compression ratio only a decompression bomb has. zipfile never inflates a member past
    its declared size, so the declared sizes bound the memory reading costs."""
    ours = [info for info in infos if _entry_name(info.filename) is not None]
    check_entry_sizes({info.filename: info.file_size for info in ours}, "the card archive")
    for info in ours:
        if info.file_size > RATIO_CHECKED_FROM and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise DamagedContainer(
                f"the card archive member {info.filename!r} inflates {info.compress_size} bytes "
                f"to {info.file_size} (over {MAX_COMPRESSION_RATIO}x); refused unread"
            )


class TFLiteCardFormat:
    suffix = ".tflite"

    def split(self, data: bytes) -> Split:
        """The payload's byte range and the entries. ValueError if not TFLite, or if a file
        without a container is not a whole flatbuffer (CutShort: cutting a file drops its
        container first, and no card's hash then vouches for the bytes), DamagedContainer when the
        file had a container that cannot be read."""
        if data[4:8] != FILE_IDENTIFIER:
            raise ValueError("no TFL3 flatbuffer identifier")
        split = self._split(data)
        if not split.entries:
            check_whole(data)
        return split

    def _split(self, data: bytes) -> Split:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                names = {info.filename: _entry_name(info.filename) for info in infos}
                if CARD_MEMBER in names:
                    _check_declared(infos)
                    entries = {
                        name: archive.read(member).decode("utf-8")
                        for member, name in names.items()
                        if name is not None
                    }
                    start = min(info.header_offset for info in infos)
                    return Split(((0, start),), entries)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            zlib.error,
            ValueError,
            OSError,
            EOFError,
            RuntimeError,  # a flipped flag bit: "encrypted" member, unknown compression method
        ) as exc:
            if _had_container(data):
                raise DamagedContainer(f"cannot read the card archive: {exc}") from None
            return Split(((0, len(data)),), {})
        if _had_container(data):
            raise DamagedContainer("the card archive has no card")
        return Split(((0, len(data)),), {})

    def join(self, payload: bytes, entries: Mapping[str, str]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(payload)
        # MediaPipe reads associated files only from an archive whose members are all stored
        # uncompressed ("Expected uncompressed zip archive"): with one, nothing is deflated.
        method = zipfile.ZIP_STORED if set(entries) & set(PLAIN_MEMBERS) else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(buffer, "a", compression=method) as archive:
            for name, text in entries.items():
                # A fixed time stamp makes join deterministic, so the container of a signed file
                # can be checked byte for byte (edgexray.signing).
                member = zipfile.ZipInfo(_member_name(name), _FIXED_TIME)
                archive.writestr(member, text, compress_type=method)
            archive.comment = MARKER
        return buffer.getvalue()
