"""Is a TFLite flatbuffer whole? Every table, vector and string it refers to must lie inside the file.

A .tflite cut short (a copy that stopped, a download that broke off) loses its appended card archive
first, so it reads as a plain model without a card. Without this check `edgexray info` would then
ask for --labels and --normalize, while the engine refuses the same file as damaged. Walking the
flatbuffer's own offsets tells the two apart without an engine (the standard library only).

Only the parts of the schema (LiteRT's schema.fbs) that refer to other data are walked: the model,
its operator codes, subgraphs with their tensors and operators, buffers (inline data, or an offset
and size in the file past the flatbuffer), metadata and signature definitions. Union option tables
are checked for their own bytes only. A valid file always passes: the check reads only offsets the
format requires to point inside the buffer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# A table's fields that refer to other data, by field index (the order in schema.fbs).
Table = dict[int, "Field"]


@dataclass(frozen=True)
class Field:
    """What a field refers to. kind: "table" (with `schema`), "tables" (a vector of tables with
    `schema`), "scalars" (a vector of `size`-byte scalars) or "string"."""

    kind: str
    schema: Table | None = None
    size: int = 0


_STRING = Field("string")
_INTS = Field("scalars", size=4)
_BYTES = Field("scalars", size=1)
_OPTIONS = Field("table", {})  # a union's table: checked for its own bytes

_QUANTIZATION: Table = {
    0: _INTS,  # min (float32)
    1: _INTS,  # max
    2: _INTS,  # scale
    3: Field("scalars", size=8),  # zero_point (int64)
}
_TENSOR: Table = {0: _INTS, 3: _STRING, 4: Field("table", _QUANTIZATION), 7: _INTS}
_OPERATOR: Table = {1: _INTS, 2: _INTS, 4: _OPTIONS, 5: _BYTES, 7: _BYTES, 8: _INTS, 12: _OPTIONS}
_SUBGRAPH: Table = {
    0: Field("tables", _TENSOR),
    1: _INTS,
    2: _INTS,
    3: Field("tables", _OPERATOR),
    4: _STRING,
}
_TENSOR_MAP: Table = {0: _STRING}
_MODEL: Table = {
    1: Field("tables", {1: _STRING}),  # operator codes: custom_code
    2: Field("tables", _SUBGRAPH),
    3: _STRING,  # description
    4: Field("tables", {0: _BYTES}),  # buffers: data (offset and size: see _check_buffers)
    5: _INTS,  # metadata_buffer
    6: Field("tables", {0: _STRING}),  # metadata: name
    7: Field(
        "tables", {0: Field("tables", _TENSOR_MAP), 1: Field("tables", _TENSOR_MAP), 2: _STRING}
    ),
}
_BUFFERS = 4
_BUFFER_OFFSET, _BUFFER_SIZE = 1, 2


def _present(offsets: list[int], index: int) -> bool:
    """Whether field `index` is in a table whose vtable gave `offsets` (absent: 0, or past the end
    of a vtable written with an older schema)."""
    return len(offsets) > index and offsets[index] != 0


class CutShort(ValueError):
    """The flatbuffer refers to bytes past the end of the file."""


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data
        self.size = len(data)

    def need(self, start: int, length: int) -> None:
        if start < 0 or length < 0 or start + length > self.size:
            raise CutShort(
                f"its flatbuffer refers to bytes past the end of the file ({start}..{start + length}"
                f" of {self.size}): the file was cut short or damaged"
            )

    def unpack(self, fmt: str, at: int) -> int:
        self.need(at, struct.calcsize(fmt))
        value: int = struct.unpack_from(fmt, self.data, at)[0]
        return value

    def field_offsets(self, table: int) -> list[int]:
        """Where each field of the table at `table` starts (0: absent), from its vtable."""
        vtable = table - self.unpack("<i", table)
        vtable_size = self.unpack("<H", vtable)
        self.need(vtable, vtable_size)
        self.need(table, self.unpack("<H", vtable + 2))  # the table's own inline bytes
        return [self.unpack("<H", vtable + at) for at in range(4, vtable_size, 2)]

    def target(self, at: int) -> int:
        """The position an unsigned offset stored at `at` points to."""
        return at + self.unpack("<I", at)

    def vector(self, at: int, element: int) -> tuple[int, int]:
        """(first element, count) of the vector at `at`, checked to lie inside the file."""
        count = self.unpack("<I", at)
        self.need(at + 4, count * element)
        return at + 4, count

    def table(self, table: int, schema: Table) -> list[int]:
        offsets = self.field_offsets(table)
        for index, field in schema.items():
            if _present(offsets, index):
                self.field(self.target(table + offsets[index]), field)
        return offsets

    def field(self, at: int, field: Field) -> None:
        if field.kind == "string":
            self.vector(at, 1)
            self.need(at + 4, self.unpack("<I", at) + 1)  # and its terminating zero
        elif field.kind == "scalars":
            self.vector(at, field.size)
        elif field.kind == "table":
            self.table(at, field.schema or {})
        else:
            first, count = self.vector(at, 4)
            for i in range(count):
                self.table(self.target(first + 4 * i), field.schema or {})


def check_whole(data: bytes | memoryview) -> None:
    """Nothing when the TFLite flatbuffer in `data` (the model bytes, without edgexray's container)
    is whole; CutShort (a ValueError) naming the first byte range that lies past its end."""
    reader = _Reader(data)
    model = reader.target(0)
    offsets = reader.table(model, _MODEL)
    if _present(offsets, _BUFFERS):
        _check_buffers(reader, reader.target(model + offsets[_BUFFERS]))


def _check_buffers(reader: _Reader, vector: int) -> None:
    """Buffers of models over 2 GB keep their data past the flatbuffer: offset and size in the
    file (an offset of 0 or 1 means none)."""
    first, count = reader.vector(vector, 4)
    for i in range(count):
        buffer = reader.target(first + 4 * i)
        offsets = reader.field_offsets(buffer)
        if _present(offsets, _BUFFER_OFFSET) and _present(offsets, _BUFFER_SIZE):
            start = reader.unpack("<Q", buffer + offsets[_BUFFER_OFFSET])
            if start > 1:
                reader.need(start, reader.unpack("<Q", buffer + offsets[_BUFFER_SIZE]))
