"""What every model-file format provides: split a file into its model bytes and named text entries,
and join them again.

The card is the entry named `card` (CARD_ENTRY); further entries (e.g. a signature) travel beside it
under their own names, in the same container. A format's `split` tells three cases apart: no
container (plain model, no entries), a readable container, and a container that was there but is
damaged (DamagedContainer), which the store refuses rather than treating the file as card-less.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

CARD_ENTRY = "card"

# A container is read before anything in it is trusted, so what it declares is bounded before a byte
# of it is inflated or decoded: a hostile file must not cost more memory than its own size plus these.
# Cards are kilobytes (the shipped ones 66-118 kB, with their model-check summaries), signatures less.
MAX_ENTRY_BYTES = 2 * 1024 * 1024  # one entry, decoded
MAX_ENTRIES_BYTES = 4 * 1024 * 1024  # all entries of a file together, decoded
MAX_ENTRIES = 32  # edgexray entries in one container
# Deflated JSON cards shrink 1.3-1.4x (base64 arrays); text this repetitive is a decompression bomb.
MAX_COMPRESSION_RATIO = 50


class DamagedContainer(ValueError):
    """The file had an edgexray container (card and entries), but it cannot be read."""


def check_entry_sizes(sizes: Mapping[str, int], where: str) -> None:
    """DamagedContainer when the declared decoded sizes (entry name -> bytes) pass the limits above:
    one entry over MAX_ENTRY_BYTES, all over MAX_ENTRIES_BYTES, or more than MAX_ENTRIES entries."""
    if len(sizes) > MAX_ENTRIES:
        raise DamagedContainer(
            f"{where} holds {len(sizes)} edgexray entries (at most {MAX_ENTRIES}); refused unread"
        )
    for name, size in sizes.items():
        if size > MAX_ENTRY_BYTES:
            raise DamagedContainer(
                f"{where} entry {name!r} declares {size} bytes (at most {MAX_ENTRY_BYTES}); refused unread"
            )
    if sum(sizes.values()) > MAX_ENTRIES_BYTES:
        raise DamagedContainer(
            f"{where} entries declare {sum(sizes.values())} bytes together "
            f"(at most {MAX_ENTRIES_BYTES}); refused unread"
        )


def read_small_file(path: Path, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
    """The bytes of the regular file `path` (a JSON sidecar, a `.sig`), None when there is none.
    OSError (ENOENT, EFBIG...) when it is not a regular file or holds more than `limit` bytes: a
    sidecar is kilobytes, and a FIFO or a 2 GB file named like one must not hang or fill memory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path}: larger than {limit} bytes; refused unread")
        data = handle.read(info.st_size + 1)  # sized: read(n) allocates n bytes up front
        if len(data) > info.st_size:  # grew since fstat
            data += handle.read(limit + 1 - len(data))
    if len(data) > limit:
        raise OSError(f"{path}: larger than {limit} bytes; refused unread")
    return data


@dataclass(frozen=True)
class Split:
    """payload: (start, end) byte ranges of the model bytes without the container, in order.
    entries: entry name -> text (JSON by convention); empty for a plain model."""

    payload: tuple[tuple[int, int], ...]
    entries: Mapping[str, str] = field(default_factory=dict)


class CardFormat(Protocol):
    suffix: str

    def split(self, data: bytes) -> Split:
        """ValueError when `data` is not this format, DamagedContainer for a damaged container."""
        ...

    def join(self, payload: bytes, entries: Mapping[str, str]) -> bytes:
        """The model bytes with `entries` as the container (replacing none: `payload` has none)."""
        ...
