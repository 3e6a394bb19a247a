"""How many bits of a 16-bit grey image hold the picture.

Detectors write 10-, 12- or 14-bit data into 16-bit PNGs. Scaled as if it filled 16 bits (by
255/65535), 12-bit data reaches at most 16 of 255 grey levels: crushed almost to black, and refused
as nearly uniform or judged as a black frame. The depth is read once per image: from the PNG's
`sBIT` chunk (the significant bits the writer declares), read from the bytes already in memory,
when it is there and the data fit it; otherwise from the data, as the bits its largest value needs
(at least 8). The image is then scaled by 255 / (2**bits - 1), so 12-bit data gives the same 8-bit
pixels as its 8-bit equivalent. Which policy was used is recorded with the decision.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

from edgexray.inputcheck.facts import SampleDepth

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK_HEAD = struct.Struct(">I4s")
# The sBIT chunk comes before the image data; nothing after the first IDAT is looked at.
_PIXEL_CHUNKS = (b"IDAT", b"IEND")


def png_significant_bits(data: bytes | bytearray | memoryview) -> int | None:
    """The grey channel's significant bits that a PNG's sBIT chunk declares (1..16), or None
    when `data` is not a PNG, has no sBIT chunk before its image data, or an invalid one."""
    view = memoryview(data)
    if bytes(view[:8]) != _PNG_SIGNATURE:
        return None
    position = 8
    while position + _CHUNK_HEAD.size <= len(view):
        length, kind = _CHUNK_HEAD.unpack_from(view, position)
        body = position + _CHUNK_HEAD.size
        if kind in _PIXEL_CHUNKS:
            return None
        if kind == b"sBIT":
            bits = view[body] if length >= 1 and body < len(view) else 0
            return int(bits) if 1 <= bits <= 16 else None
        position = body + length + 4  # the chunk's data, then its CRC
    return None


def read_depth(pixels: np.ndarray, declared: int | None) -> SampleDepth:
    """The depth of 16-bit grey `pixels` (values 0..65535) whose file declared `declared`
    significant bits (None: no sBIT chunk)."""
    low, high = (int(pixels.min()), int(pixels.max())) if pixels.size else (0, 0)
    if declared is not None and high < 2**declared:
        return SampleDepth("sbit", declared, low, high)
    return SampleDepth("data", max(8, high.bit_length()), low, high, declared)


@functools.cache
def depth_table(bits: int) -> np.ndarray:
    """uint8 value of each 16-bit value for data `bits` deep: rint(p * 255 / (2**bits - 1)),
    values above the depth at 255. A lookup, as for the full 16 bits (see decode)."""
    top = 2**bits - 1
    values = np.arange(65536, dtype=np.uint32)
    table = np.minimum((values * 255 * 2 + top) // (2 * top), 255).astype(np.uint8)
    table.flags.writeable = False
    return table
