"""ONNX: each container entry is a `metadata_props` entry of the ModelProto, key `edgexray.<name>`
(the card: `edgexray.card`).

The entries are read and written at the protobuf wire level: protobuf lets a message's fields come in
any order, so appending serialized `metadata_props` fields to a valid ModelProto yields a valid model
with more entries. This keeps `edgexray info` working without the onnx package or an engine, and
lets the payload hash exclude the entries exactly. A file that no longer parses but still holds the
card's key had a card that was cut or damaged (DamagedContainer), not no card.
"""

from __future__ import annotations

from collections.abc import Mapping

from edgexray.modelfile.container import DamagedContainer, Split, check_entry_sizes

KEY_PREFIX = "edgexray."
CARD_KEY = "edgexray.card"
_GRAPH = 7  # ModelProto.graph
_METADATA_PROPS = 14  # ModelProto.metadata_props
_KEY, _VALUE = 1, 2  # StringStringEntryProto fields


class WireFormatError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: bytes | memoryview) -> list[tuple[int, int, int, int, int]]:
    """Top-level fields as (number, wire_type, start, value_start, end) byte offsets."""
    fields = []
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireFormatError("field number 0")
        if wire_type == 0:
            _, pos = _varint(data, pos)
            value_start = start
        elif wire_type == 1:
            value_start, pos = pos, pos + 8
        elif wire_type == 2:
            length, value_start = _varint(data, pos)
            pos = value_start + length
        elif wire_type == 5:
            value_start, pos = pos, pos + 4
        else:
            raise WireFormatError(f"unsupported wire type {wire_type}")
        if pos > len(data):
            raise WireFormatError(
                "field runs past the end of the file: the file was cut short or damaged"
            )
        fields.append((number, wire_type, start, value_start, pos))
    return fields


def _entry(data: memoryview) -> dict[int, memoryview]:
    """The length-delimited fields of a small message, as views (a large value is not copied)."""
    return {
        number: data[value_start:end]
        for number, wire_type, _, value_start, end in _fields(data)
        if wire_type == 2
    }


def _length_delimited(number: int, value: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(value)) + value


class ONNXCardFormat:
    suffix = ".onnx"

    def split(self, data: bytes) -> Split:
        """The payload's byte ranges and the entries. WireFormatError if not a protobuf model,
        DamagedContainer when it had a card that can no longer be read."""
        try:
            return self._split(data)
        except (WireFormatError, UnicodeDecodeError) as exc:
            if data.rfind(CARD_KEY.encode()) >= 0:
                raise DamagedContainer(f"the file no longer parses ({exc})") from None
            raise

    def _split(self, data: bytes) -> Split:
        payload: list[tuple[int, int]] = []
        values: dict[str, memoryview] = {}
        view = memoryview(data)
        fields = _fields(view)
        if not any(number == _GRAPH and wire_type == 2 for number, wire_type, *_ in fields):
            raise WireFormatError("no graph in the file")
        for number, wire_type, start, value_start, end in fields:
            if number == _METADATA_PROPS and wire_type == 2:
                entry = _entry(view[value_start:end])
                key = bytes(entry.get(_KEY, b""))
                if key.startswith(KEY_PREFIX.encode()):
                    values[key[len(KEY_PREFIX) :].decode("utf-8")] = entry.get(_VALUE, view[:0])
                    continue
            if payload and payload[-1][1] == start:
                payload[-1] = (payload[-1][0], end)
            else:
                payload.append((start, end))
        # Sizes first: nothing is copied or decoded out of a file whose entries pass the limits.
        check_entry_sizes({name: len(value) for name, value in values.items()}, "the metadata")
        entries = {name: bytes(value).decode("utf-8") for name, value in values.items()}
        return Split(tuple(payload), entries)

    def join(self, payload: bytes, entries: Mapping[str, str]) -> bytes:
        parts = [payload]
        for name, text in entries.items():
            entry = _length_delimited(_KEY, (KEY_PREFIX + name).encode()) + _length_delimited(
                _VALUE, text.encode("utf-8")
            )
            parts.append(_length_delimited(_METADATA_PROPS, entry))
        return b"".join(parts)
